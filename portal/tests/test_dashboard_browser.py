"""The dashboard journey in a real browser, in both languages: dist-admin opens the dashboard, switches to
Reseller A, and follows the disassociation count to the association records filtered the same way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import sign_in
from customers.models import AssociationEvent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

Op = AssociationEvent.Operation


@pytest.fixture
def events(partners):
    now = timezone.now() - timedelta(hours=1)
    made = []
    for n, (key, op) in enumerate(
        [("ra", Op.DISASSOCIATE), ("ra", Op.DISASSOCIATE), ("ra", Op.ASSOCIATE), ("rb", Op.DISASSOCIATE)]
    ):
        made.append(
            AssociationEvent.objects.create(
                partner=partners[key],
                customer_upstream_id=f"browser-{n}",
                record_id=f"browser-rec-{n}",
                operation=op,
                association_type="2",
                occurred_at=now - timedelta(minutes=n),
                initiator=AssociationEvent.Initiator.CUSTOMER,
            )
        )
    return made


@pytest.mark.parametrize(
    ("language", "records_title", "disassociate"),
    [("zh-hans", "关联关系操作记录", "解除关联"), ("en", "Association records", "Disassociate")],
)
def test_dist_admin_switches_to_reseller_a_and_follows_the_disassociations(
    page, dist_admin, partners, events, language, records_title, disassociate
):
    sign_in(page, "dist-admin")
    if language == "en":
        page.select_option("[data-testid=language-select]", "en")
        page.wait_for_load_state("load")
        page.locator("html[lang=en]").wait_for()
    page.goto("/")
    board = page.locator("[data-testid=dashboard]")
    expect(board.locator("[data-testid=total-2] strong")).to_have_text("0")  # the distributor's own
    assert board.locator("svg[data-testid=association-chart] rect").count() == 36

    page.select_option("#dashboard-partner", str(partners["ra"].pk))
    expect(page.locator(f"[data-testid=dashboard][data-scope='{partners['ra'].pk}']")).to_be_visible()
    assert f"partner={partners['ra'].pk}" in page.url  # the scope is in the URL
    expect(page.locator("[data-testid=total-2] strong")).to_have_text("2")

    page.locator("[data-testid=total-2]").click()
    page.wait_for_url("**/customers/associations/**")
    expect(page.locator("h1")).to_have_text(records_title)
    rows = page.locator("tr[data-record]")
    expect(rows).to_have_count(2)
    for i in range(2):
        expect(rows.nth(i).locator("[data-testid=operation]")).to_have_text(disassociate)
    expect(page.locator("select[name=operation]")).to_have_value("DISASSOCIATE")
    assert page.console_errors == []


def test_the_dashboard_polls_only_while_the_tab_is_visible(page, ra_admin, events):
    sign_in(page, "ra-admin")
    page.goto("/")
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.headers.get("hx-request") else None)
    # Hidden: a due poll is cancelled. (Fire the poll at once instead of waiting 60 s.)
    page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
        "htmx.trigger(document.querySelector('[data-poll-visible]'), 'dashboard-refresh')"
    )
    page.wait_for_timeout(500)
    assert requests == []
    page.evaluate(
        "Object.defineProperty(document, 'visibilityState', {value: 'visible', configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    page.wait_for_timeout(1000)
    assert len(requests) == 1
    assert page.console_errors == []
