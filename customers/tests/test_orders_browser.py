"""The partner payment journey in a real browser, in both languages, against a simulator and a real worker:
dist-finance finds an order awaiting its payment that is part of a combined order, opens it, pays the
combination, and sees every order in it paid."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from conftest import WorkerProcess, shot, sign_in, worker_env
from customers.models import Order, PartnerPayment
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.sync import run_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "zh-hans": {"orders": "订单", "completed": "已完成", "pay": "支付组合订单"},
    "en": {"orders": "Orders", "completed": "Completed", "pay": "Pay the combined order"},
}


@pytest.fixture
def worker(private_upstream, tmp_path):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "partner_balances", "orders"):
            assert run_dataset(name, client=client, mode="full").status == SyncRun.Status.SUCCEEDED
    process = WorkerProcess(
        worker_env(UPSTREAM_ENDPOINT=private_upstream.url, UPSTREAM_RATE_LIMIT="0"), tmp_path / "worker.log"
    ).start()
    yield process
    process.stop()


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_dist_finance_pays_a_combined_order_and_sees_every_order_in_it_paid(
    page, make_staff, partners, worker, language
):
    text = TEXT[language]
    make_staff("dist", "finance", username="dist-finance")
    head = (
        Order.objects.heads()
        .awaiting_partner_payment()
        .filter(partner=partners["dist"], is_combined=True)
        .order_by("-ordered_at", "-id")
        .first()
    )
    children = list(head.children.order_by("order_id").values_list("order_id", flat=True))
    assert len(children) >= 2
    sign_in(page, "dist-finance")
    if language == "en":
        page.select_option("[data-testid=language-select]", "en")
        page.locator("html[lang=en]").wait_for()

    # The orders awaiting the partner's payment, from the list's own shortcut.
    page.goto("/customers/orders/")
    expect(page.locator("h1")).to_have_text(text["orders"])
    page.click("[data-testid=awaiting-partner]")
    page.wait_for_url("**/customers/orders/?status=partner")
    row = page.locator(f"tr[data-order='{head.order_id}']")
    expect(row).to_be_visible()
    row.locator("details.combined summary").click()
    row.locator(f"li[data-child='{children[0]}'] a").click()

    # The child order: part of the combination, which is paid as a whole from here.
    page.wait_for_url("**/customers/orders/*/")
    expect(page.locator("[data-testid=part-of-combined]")).to_be_visible()
    pay = page.locator("[data-testid=pay]")
    expect(pay).to_have_text(text["pay"])
    pay.click()
    page.wait_for_url(f"**/customers/orders/{head.pk}/")
    statuses = page.locator("[data-testid=combined-orders] [data-testid=child-status]")
    expect(statuses).to_have_count(len(children))
    for i in range(len(children)):
        expect(statuses.nth(i)).to_have_text(text["completed"], timeout=30_000)
    expect(page.locator("#order-status [data-testid=order-status] .badge.ok")).to_have_text(text["completed"])
    assert PartnerPayment.objects.get(order=head).status == "succeeded"
    assert set(Order.objects.filter(parent=head).values_list("status", flat=True)) == {5}
    shot(page, f"order-paid-{language}")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
