"""The read-only billing panels the customer detail page loads through htmx."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import AdjustRecord, CommercialDiscount, CustomerAccount
from customers.models import Customer

pytestmark = pytest.mark.django_db

PANELS = ("billing:customer-balance", "billing:customer-discounts", "billing:customer-adjust-records")


@pytest.fixture
def customer(partners):
    customer = Customer.objects.create(
        partner=partners["ra"],
        customer_id="panel-cust",
        name="张伟伟",
        account_name="hwc-panel",
        association_type="2",
    )
    CustomerAccount.objects.create(
        customer=customer, partner=partners["ra"], amount=Decimal("88.10"), debt_amount=Decimal("5.00")
    )
    CommercialDiscount.objects.create(
        partner=partners["ra"],
        customer=customer,
        customer_upstream_id="panel-cust",
        discount_id="d-1",
        business_name="Contract 2026",
        status="EFFECTIVE",
        discount_rate=Decimal("0.8500"),
    )
    AdjustRecord.objects.create(
        partner=partners["ra"],
        customer=customer,
        customer_upstream_id="panel-cust",
        trans_id="t-1",
        operation_type="SOURCE_OPERATION_BEADJUST",
        amount=Decimal("100.00"),
        operation_time=timezone.now(),
    )
    return customer


def test_the_panels_show_balance_discounts_and_adjustments(client_for, ra_finance, customer):
    client = client_for(ra_finance)
    htmx = {"HX-Request": "true"}
    balance = client.get(reverse(PANELS[0], args=[customer.pk]), headers=htmx)
    assert balance.status_code == 200 and b"<html" not in balance.content
    assert "88.10" in balance.content.decode() and "5.00" in balance.content.decode()
    assert (
        "Contract 2026" in client.get(reverse(PANELS[1], args=[customer.pk]), headers=htmx).content.decode()
    )
    assert "t-1" in client.get(reverse(PANELS[2], args=[customer.pk]), headers=htmx).content.decode()


def test_a_full_page_request_renders_the_panel_in_the_shell(client_for, ra_viewer, customer):
    response = client_for(ra_viewer).get(reverse(PANELS[0], args=[customer.pk]))
    assert response.status_code == 200 and b"<html" in response.content and b"88.10" in response.content


@pytest.mark.parametrize("name", PANELS)
def test_the_panels_are_404_for_outsiders_and_closed_to_anonymous_users(
    client, client_for, rb_admin, customer, name
):
    url = reverse(name, args=[customer.pk])
    assert client.get(url)["Location"].startswith("/accounts/login/")
    assert client.post(url).status_code == 405
    assert client_for(rb_admin).get(url).status_code == 404


def test_a_referral_customer_has_no_resale_balance(client_for, ra_admin, partners):
    referral = Customer.objects.create(partner=partners["ra"], customer_id="ref-1", association_type="1")
    page = client_for(ra_admin).get(reverse(PANELS[0], args=[referral.pk])).content.decode()
    assert response_ok(page) and 'data-testid="customer-balance"' not in page


def response_ok(page: str) -> bool:
    return "<html" in page
