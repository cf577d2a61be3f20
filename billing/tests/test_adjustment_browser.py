"""The fund adjustment journey in a real browser, in both languages, against the simulator and a real worker:
ra-finance allocates ¥100.00 to a resale customer with the preview, sees it succeed and both balances change,
reclaims ¥40.00, then finds both in the adjustment records."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from billing.models import Adjustment, CustomerAccount, PartnerAccount
from conftest import WorkerProcess, shot, sign_in, worker_env
from customers.models import Customer
from upstream.client import UpstreamClient
from upstream.models import SyncRun
from upstream.sync import run_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "zh-hans": {"allocate": "拨款", "reclaim": "回收", "succeeded": "成功", "records": "调账记录"},
    "en": {
        "allocate": "Allocate",
        "reclaim": "Reclaim",
        "succeeded": "Succeeded",
        "records": "Adjustment records",
    },
}


@pytest.fixture
def worker(upstream_settings, upstream_sim, tmp_path):
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers", "partner_balances", "customer_balances"):
            assert run_dataset(name, client=client, mode="full").status == SyncRun.Status.SUCCEEDED
    process = WorkerProcess(
        worker_env(UPSTREAM_ENDPOINT=upstream_sim.url, UPSTREAM_RATE_LIMIT="0"), tmp_path / "worker.log"
    ).start()
    yield process
    process.stop()


def _money(text: str) -> Decimal:
    return Decimal(text.replace("¥", "").replace(",", "").strip())


def _submit(page, kind: str, amount: str, memo: str) -> None:
    page.check(f"input[name=kind][value={kind}]")
    page.fill("input[name=amount]", amount)
    preview = page.locator("[data-testid=adjust-preview] tr[data-tier=customer]")
    expect(preview).to_be_visible()
    page.fill("textarea[name=memo]", memo)
    page.click("[data-testid=adjust-submit]")
    page.wait_for_url("**/billing/adjustments/*/")
    expect(page.locator("[data-testid=adjustment-status]")).to_have_attribute(
        "data-status", "succeeded", timeout=30_000
    )


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ra_finance_allocates_reclaims_and_finds_both_in_the_records(
    page, ra_finance, partners, worker, language
):
    text = TEXT[language]
    customer = (
        Customer.objects.filter(partner=partners["ra"], association_type="2", account__isnull=False)
        .order_by("customer_id")
        .first()
    )
    partner_before = PartnerAccount.objects.get(partner=partners["ra"], account_type=1).amount
    customer_before = CustomerAccount.objects.get(customer=customer).amount
    sign_in(page, "ra-finance")
    if language == "en":
        page.select_option("[data-testid=language-select]", "en")
        page.locator("html[lang=en]").wait_for()
    page.goto(f"/customers/{customer.pk}/")
    allocate = page.locator("[data-testid=allocate]")
    expect(allocate).to_have_text(text["allocate"])
    allocate.click()
    page.wait_for_url(f"**/billing/customers/{customer.pk}/adjust/?kind=allocate")

    # The preview: the customer's account before → after, as the amount is typed.
    page.fill("input[name=amount]", "100.00")
    row = page.locator("[data-testid=adjust-preview] tr[data-tier=customer] td.num")
    expect(row.nth(1)).to_have_text(f"¥{customer_before + 100:,.2f}")
    _submit(page, "allocate", "100.00", "journey top-up")
    expect(page.locator("[data-testid=adjustment-status] .badge.ok")).to_have_text(text["succeeded"])
    assert page.locator("[data-testid=adjustment-trans-id]").inner_text()

    # Both balances moved at once (the outbox applied the succeeded adjustment to the mirror).
    assert CustomerAccount.objects.get(customer=customer).amount == customer_before + 100
    assert PartnerAccount.objects.get(partner=partners["ra"], account_type=1).amount == partner_before - 100
    page.goto(f"/customers/{customer.pk}/")
    expect(page.locator("[data-testid=customer-balance] dd").first).to_have_text(
        f"¥{customer_before + 100:,.2f}"
    )

    page.goto(f"/billing/customers/{customer.pk}/adjust/?kind=reclaim")
    _submit(page, "reclaim", "40.00", "journey reclaim")
    assert CustomerAccount.objects.get(customer=customer).amount == customer_before + 60

    page.goto("/billing/adjustments/")
    expect(page.locator("h1")).to_have_text(text["records"])
    rows = page.locator("#adjustment-list tbody tr[data-origin=portal]")
    expect(rows).to_have_count(2)
    assert _money(rows.nth(0).locator("td.num").inner_text()) == Decimal("40.00")
    assert _money(rows.nth(1).locator("td.num").inner_text()) == Decimal("100.00")
    assert set(Adjustment.objects.values_list("status", flat=True)) == {"succeeded"}
    shot(page, f"adjust-records-{language}")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
