"""The price inquiry in a real browser, in both languages (issue 12 point 5).

ra-sales chooses a product through the cascading choosers, picks a customer found by its ID, and gets the
platform's price and the customer's price after its partner discount.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone, translation
from playwright.sync_api import expect

from billing.models import PartnerDiscount
from conftest import htmx_settled, sign_in
from customers.models import Customer

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_salesperson_gets_a_price_for_a_customer(page, live_server, ra_sales, upstream_settings, language):
    customer = Customer.objects.create(
        partner=ra_sales.partner, customer_id="quote-cust-1", name="北京星河科技", association_type="1"
    )
    now = timezone.now()
    PartnerDiscount.objects.create(
        partner=customer.partner,
        customer=customer,
        rate=Decimal("0.85"),
        effective_time=now - timedelta(days=1),
        expire_time=now + timedelta(days=30),
        push_status="applied",
    )
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

    def label(text: str) -> str:
        with translation.override(language):
            return translation.gettext(text)

    sign_in(page, "ra-sales")
    page.goto("/")
    expect(page.locator("nav a[href='/billing/quote/']")).to_have_text(label("Price inquiry"))
    page.goto("/billing/quote/")
    page.select_option("select[name=service_type]", "hws.service.type.ec2")
    expect(page.locator("select[name=resource_type] option[value='hws.resource.type.vm']")).to_have_count(1)
    htmx_settled(page)
    page.select_option("select[name=resource_type]", "hws.resource.type.vm")
    expect(page.locator("select[name=spec] option[value='c7.xlarge.2.linux']")).to_have_count(1)
    htmx_settled(page)
    page.select_option("select[name=spec]", "c7.xlarge.2.linux")
    page.fill("#quote-customer-q", "quote-cust")
    page.click("[data-testid=quote-customer-find]")
    page.locator("[data-testid=quote-customer-pick]").click()
    expect(page.locator("[data-testid=quote-picked]")).to_contain_text("北*****")
    page.click("[data-testid=quote-submit]")
    expect(page.locator("[data-testid=quote-amount]")).to_have_text("¥741.60")
    expect(page.locator("[data-testid=quote-customer-amount]")).to_have_text("¥630.36")
    discount = label("Partner discount %(rate)s, until %(until)s").split("%")[0].strip()
    expect(page.locator("[data-testid=quote-discount]")).to_contain_text(f"{discount} 0.8500")
    assert "spec=c7.xlarge.2.linux" in page.url  # the quote's address is the quote
    assert "北京星河科技" not in page.content()
    assert not page.console_errors
