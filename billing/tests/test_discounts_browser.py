"""The discount journey in a real browser, in both languages (issue 10).

ra-finance sets a customer's discount from the customer list, creates a dedicated offer for the customer,
then invalidates it with a reason and sees its status change once the upstream (the simulator) confirms.
"""

from __future__ import annotations

import pytest
from django.utils import translation
from playwright.sync_api import expect

from billing.models import DedicatedOffer, PartnerDiscount
from conftest import shot, sign_in
from customers.models import Customer
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.sync import run_dataset

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def drain() -> None:
    with UpstreamClient.from_settings(rate_limit=0) as client:
        outbox.drain(client=client)


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_ra_finance_sets_a_discount_creates_an_offer_and_invalidates_it(
    page, live_server, ra_finance, upstream_settings, monkeypatch, language
):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    with UpstreamClient.from_settings(rate_limit=0) as client:
        for name in ("indirect_partners", "customers"):
            assert run_dataset(name, client=client, mode="full").status == "succeeded"
    customer = (
        Customer.objects.filter(
            partner=ra_finance.partner, association_type="1", disassociated_at__isnull=True
        )
        .exclude(account_name="")
        .order_by("customer_id")
        .first()
    )
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

    def label(text) -> str:
        with translation.override(language):
            return translation.gettext(text) if isinstance(text, str) else str(text)

    sign_in(page, "ra-finance")
    # 1. Set the customer's discount from its row in the customer list.
    page.goto(f"/customers/?customer_id={customer.customer_id}")
    page.locator(f"tr[data-customer='{customer.customer_id}'] [data-testid=row-set-discount]").click()
    page.wait_for_url(f"**/billing/discounts/customers/{customer.pk}/")
    page.fill("input[name=rate]", "0.85")
    page.click("[data-testid=discount-submit]")
    page.wait_for_url("**/billing/discounts/")
    row = page.locator(f"tr[data-customer='{customer.customer_id}']")
    expect(row).to_contain_text("¥850.00")
    expect(row).to_contain_text(label(PartnerDiscount.Push.PENDING.label))
    drain()
    page.reload()
    expect(row).not_to_contain_text(label(PartnerDiscount.Push.PENDING.label))
    assert PartnerDiscount.objects.get(customer=customer).push_status == "applied"
    shot(page, f"discounts-{language}")

    # 2. Create a dedicated offer for the customer.
    page.click("[data-testid=tab-offers]")
    page.click("[data-testid=offer-new]")
    page.fill("input[name=customer]", customer.customer_id)
    page.fill("input[name=name]", f"Journey offer {language}")
    page.fill("textarea[name=product_ids]", "ecs.c6.large, obs.standard")
    page.click("[data-testid=offer-submit]")
    page.wait_for_url("**/billing/discounts/offers/")
    offer_row = page.locator(f"tr[data-offer='Journey offer {language}']")
    expect(offer_row.locator("[data-testid=offer-status]")).to_have_text(
        label(DedicatedOffer.Status.CREATING.label)
    )
    drain()
    page.reload()
    expect(offer_row.locator("[data-testid=offer-status]")).to_have_text(
        label(DedicatedOffer.Status.ACTIVE.label)
    )

    # 3. Invalidate it: the dialog asks for a reason; "invalidating…" until the upstream confirms.
    offer_row.locator("[data-testid=offer-invalidate]").click()
    dialog = page.locator("[role=dialog]")
    expect(dialog).to_be_visible()
    dialog.locator("textarea[name=reason]").fill(
        "客户不再需要" if language == "zh-hans" else "No longer needed"
    )
    shot(page, f"invalidate-{language}")
    dialog.locator("[data-testid=offer-invalidate-confirm]").click()
    page.wait_for_url("**/billing/discounts/offers/")
    expect(offer_row.locator("[data-testid=offer-status]")).to_have_text(label("Invalidating…"))
    drain()
    page.reload()
    expect(offer_row.locator("[data-testid=offer-status]")).to_have_text(
        label(DedicatedOffer.Status.INVALIDATED.label)
    )
    offer = DedicatedOffer.objects.get(name=f"Journey offer {language}")
    assert offer.status == "INVALIDATED" and offer.invalidation_reason
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors


def test_ra_finance_sets_one_discount_for_the_ticked_customers(page, ra_finance, partners, monkeypatch):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    for i, kind in enumerate(("1", "1", "2")):
        Customer.objects.create(
            partner=partners["ra"],
            customer_id=f"tick-{i}",
            association_type=kind,
            name="赵六",
            account_name=f"t{i}",
        )
    sign_in(page, "ra-finance")
    page.goto("/customers/")
    page.locator("tr[data-customer='tick-0'] [data-testid=pick-discount]").check()
    page.locator("tr[data-customer='tick-1'] [data-testid=pick-discount]").check()
    assert page.locator("tr[data-customer='tick-2'] [data-testid=pick-discount]").count() == 0  # resale
    page.click("[data-testid=bulk-set-discount]")
    page.wait_for_url("**/billing/discounts/bulk/**")
    page.fill("input[name=rate]", "0.9")
    page.click("[data-testid=discount-submit]")
    results = page.locator("[data-testid=bulk-results]")
    expect(results.locator("tr[data-customer='tick-0'] .badge.ok")).to_be_visible()
    expect(results.locator("tr[data-customer='tick-1'] .badge.ok")).to_be_visible()
    assert set(PartnerDiscount.objects.values_list("customer__customer_id", flat=True)) == {
        "tick-0",
        "tick-1",
    }
