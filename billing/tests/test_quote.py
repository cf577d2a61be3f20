"""Price inquiry (/billing/quote/, issue 12 point 5): the platform's price, the customer's, exports, rules."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import AuditEvent
from billing import quote
from billing.models import CommercialDiscount, PartnerDiscount
from customers.models import Customer
from upstream.client import UpstreamClient
from upstream.types import RatingProduct

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
VM = {
    "region": "cn-north-4",
    "service_type": "hws.service.type.ec2",
    "resource_type": "hws.resource.type.vm",
    "spec": "c7.xlarge.2.linux",
    "quantity": "1",
    "hours": "720",
}
DISK = {
    "region": "cn-east-3",
    "service_type": "hws.service.type.ebs",
    "resource_type": "hws.resource.type.volume",
    "spec": "SSD",
    "size": "100",
    "quantity": "2",
    "hours": "720",
}


@pytest.fixture(autouse=True)
def english(client, upstream_settings):
    """Pages in English (the messages asserted here), against the session's simulator."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def make_customer(partner, customer_id: str, **fields) -> Customer:
    fields.setdefault("name", "张伟伟")
    fields.setdefault("account_name", f"acct-{customer_id}")
    return Customer.objects.create(partner=partner, customer_id=customer_id, association_type="1", **fields)


def partner_discount(customer, rate: str, *, push_status="applied") -> PartnerDiscount:
    now = timezone.now()
    return PartnerDiscount.objects.create(
        partner=customer.partner,
        customer=customer,
        rate=Decimal(rate),
        effective_time=now - timedelta(days=1),
        expire_time=now + timedelta(days=30),
        push_status=push_status,
    )


def commercial_discount(customer, rate: str, n: int = 1, status="EFFECTIVE") -> CommercialDiscount:
    return CommercialDiscount.objects.create(
        partner=customer.partner,
        customer=customer,
        customer_upstream_id=customer.customer_id,
        discount_id=f"cd-{customer.customer_id}-{n}",
        business_name=f"Contract {n}",
        discount_type=605,
        status=status,
        discount_rate=Decimal(rate),
    )


def calls(sim, operation: str) -> int:
    return sim.state()["calls_by_operation"].get(operation, 0)


def rated(**inputs) -> Decimal:
    """The simulator's own answer for the inputs (the portal's client, straight)."""
    size = int(inputs["size"]) if inputs.get("size") else None
    product = RatingProduct(
        id="x",
        cloud_service_type=inputs["service_type"],
        resource_type=inputs["resource_type"],
        resource_spec=inputs["spec"],
        region=inputs["region"],
        usage_value=Decimal(inputs["hours"]),
        subscription_num=int(inputs["quantity"]),
        resource_size=size,
        size_measure_id=quote.LINEAR_RESOURCE_TYPES.get(inputs["resource_type"]) if size else None,
    )
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return client.rate_on_demand([product], project_id="p").official_website_amount


def get_quote(client, headers=None, **params):
    return client.get(reverse("billing:quote"), params, headers=headers)


# --- the price ------------------------------------------------------------------------------------------


def test_a_salesperson_gets_the_platforms_on_demand_price(client_for, ra_sales):
    response = get_quote(client_for(ra_sales), **VM)
    assert response.status_code == 200
    result = response.context["quote"]
    assert result.amount == rated(**VM) == Decimal("741.6")  # 1.03/h × 720 h
    assert result.customer is None
    assert "¥741.60" in response.content.decode()
    assert "Customer's price" not in response.content.decode()


def test_a_linear_product_is_priced_by_its_size(client_for, ra_finance):
    result = get_quote(client_for(ra_finance), **DISK).context["quote"]
    assert result.amount == rated(**DISK) == Decimal("201.6")  # 0.0014/GB/h × 100 GB × 2 × 720 h
    assert result.line.size == 100 and result.line.size_measure_id == 17


def test_the_customers_price_applies_its_partner_discount_and_says_so(client_for, ra_sales, partners):
    customer = make_customer(partners["ra"], "q-1")
    partner_discount(customer, "0.85")
    commercial_discount(customer, "0.9")
    response = get_quote(client_for(ra_sales), **VM, customer="q-1")
    result = response.context["quote"]
    assert result.customer_amount == Decimal("630.360000") == result.amount * Decimal("0.85")
    body = response.content.decode()
    assert "¥630.36" in body
    assert "Partner discount 0.8500" in body
    assert "张**" in body and "张伟伟" not in body  # the customer is shown masked


def test_the_lowest_rate_in_force_applies(client_for, ra_sales, partners):
    customer = make_customer(partners["ra"], "q-2")
    partner_discount(customer, "0.85")
    commercial_discount(customer, "0.8", n=1)
    commercial_discount(customer, "0.5", n=2, status="EXPIRED")
    result = get_quote(client_for(ra_sales), **VM, customer="q-2").context["quote"]
    assert result.discount.rate == Decimal("0.8")
    assert result.customer_amount == Decimal("593.28")
    assert quote.discount_label(result) == "Commercial discount “Contract 1” 0.8000"


def test_a_discount_not_yet_taken_by_the_platform_does_not_count(client_for, ra_sales, partners):
    customer = make_customer(partners["ra"], "q-3")
    partner_discount(customer, "0.5", push_status="pending")
    response = get_quote(client_for(ra_sales), **VM, customer="q-3")
    result = response.context["quote"]
    assert result.discount is None and result.customer_amount == result.amount
    assert "None: the list price applies" in response.content.decode()


def test_the_customers_price_is_rounded_as_the_platform_rounds(client_for, ra_sales, partners):
    customer = make_customer(partners["ra"], "q-4")
    partner_discount(customer, "0.85")
    inputs = {**DISK, "spec": "SAS", "size": "1", "quantity": "1", "hours": "0.01"}
    result = get_quote(client_for(ra_sales), **inputs, customer="q-4").context["quote"]
    assert result.amount == rated(**inputs) == Decimal("0.000007")
    # 0.000007 × 0.85 = 0.00000595: 6 places, half up, like the platform's inquiry amounts.
    assert result.customer_amount == Decimal("0.000006")
    assert quote.format_price(result.customer_amount) == "¥0.000006"


@pytest.mark.parametrize(
    "amount, shown",
    [("741.6", "¥741.60"), ("1234567.5678", "¥1,234,567.5678"), ("0.504", "¥0.504"), ("3", "¥3.00")],
)
def test_prices_show_at_least_cents_and_the_platforms_places(amount, shown):
    assert quote.format_price(Decimal(amount)) == shown


@given(
    amount=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(10**9), places=6),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1), places=4),
)
def test_a_discounted_price_is_exact_rounded_half_up_and_never_above_the_list_price(amount, rate):
    price = quote.discounted(amount, rate)
    assert price == (amount * rate).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    assert price <= amount and abs(price - amount * rate) <= Decimal("0.0000005")
    assert Decimal(quote.exact(price)) == price


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"hours": "0"}, "hours", "greater than or equal to 0.01"),
        ({"hours": "1000001"}, "hours", "less than or equal to 1000000"),
        ({"hours": "1.005"}, "hours", "no more than 2 decimal places"),
        ({"hours": "abc"}, "hours", "Enter a number."),
        ({"quantity": "0"}, "quantity", "greater than or equal to 1"),
        ({"quantity": "10001"}, "quantity", "less than or equal to 10000"),
        ({"spec": "no-such-spec"}, "spec", "Select a valid choice."),
        ({"spec": "SSD"}, "spec", "Select a valid choice."),  # a disk spec under the server type
        ({"region": "mars-1"}, "region", "Select a valid choice."),
        ({"spec": ""}, "spec", "This field is required."),
        ({"hours": ""}, "hours", "This field is required."),
    ],
)
def test_inputs_out_of_range_are_form_errors_and_nothing_is_priced(
    client_for, ra_sales, upstream_sim, changes, field, message
):
    before = calls(upstream_sim, "ListOnDemandResourceRatings")
    response = get_quote(client_for(ra_sales), **{**VM, **changes})
    assert response.status_code == 200
    assert response.context["quote"] is None
    assert any(message in error for error in response.context["form"].errors[field])
    assert calls(upstream_sim, "ListOnDemandResourceRatings") == before


@pytest.mark.parametrize("size", ["", "0", "-5", "1000001"])
def test_a_linear_product_needs_a_size_within_the_limits(client_for, ra_sales, upstream_sim, size):
    before = calls(upstream_sim, "ListOnDemandResourceRatings")
    response = get_quote(client_for(ra_sales), **{**DISK, "size": size})
    assert "size" in response.context["form"].errors
    assert calls(upstream_sim, "ListOnDemandResourceRatings") == before


def test_a_price_above_the_platforms_maximum_is_explained(client_for, ra_sales):
    inputs = {**VM, "spec": "c7.2xlarge.4.linux", "quantity": "10000", "hours": "1000000"}
    response = get_quote(client_for(ra_sales), **inputs)
    assert response.context["quote"] is None
    assert "above the platform's limit for one inquiry" in response.context["refusal"]


def test_an_upstream_failure_is_a_message_in_the_users_language(client_for, ra_sales, upstream_sim):
    client = client_for(ra_sales)
    get_quote(client, **VM, headers={"Accept-Language": "zh-hans"})  # the catalogue is cached in both
    get_quote(client, **VM)
    upstream_sim.set_faults(error_rate=1.0)
    try:
        response = get_quote(client, **VM)
        assert response.context["refusal"] == (
            "The platform could not price this: The cloud platform had an internal error; try again later."
        )
        assert "could not price this" in response.content.decode()
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
        response = get_quote(client, **VM)
        assert response.context["refusal"].startswith("平台无法为此询价")
        # The catalogue in a language not read yet: the form says so, and nothing is priced.
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        cache.delete("quote:service-types:en_US")
        response = get_quote(client, **VM)
        assert response.context["quote"] is None and not response.context["refusal"]
        assert "product catalogue could not be read" in response.content.decode()
    finally:
        upstream_sim.clear_faults()


# --- the customer: tenancy, masking, search ---------------------------------------------------------------


def test_another_tenants_customer_is_unknown_and_not_revealed(client_for, ra_sales, partners, upstream_sim):
    make_customer(partners["rb"], "rb-secret", name="秘密客户公司")
    client = client_for(ra_sales)
    before = calls(upstream_sim, "ListOnDemandResourceRatings")
    response = get_quote(client, **VM, customer="rb-secret")
    assert response.context["form"].errors["customer"] == ["No customer with this ID."]
    assert "秘" not in response.content.decode()
    assert calls(upstream_sim, "ListOnDemandResourceRatings") == before
    # The same answer as for an id nobody has.
    assert get_quote(client, **VM, customer="nobody").context["form"].errors["customer"] == [
        "No customer with this ID."
    ]
    # Picking it is a 404; searching for it finds nothing.
    url = reverse("billing:quote-customers")
    assert client.get(url, {"pick": "rb-secret"}, headers=HTMX).status_code == 404
    assert "rb-secret" not in client.get(url, {"q": "rb-secret"}, headers=HTMX).content.decode()


def test_a_distributor_quotes_for_its_resellers_customers(client_for, dist_admin, partners):
    make_customer(partners["ra"], "ra-cust")
    partner_discount(Customer.objects.get(customer_id="ra-cust"), "0.9")
    result = get_quote(client_for(dist_admin), **VM, customer="ra-cust").context["quote"]
    assert result.customer.customer_id == "ra-cust" and result.customer_amount == Decimal("667.44")


def test_the_customer_search_finds_by_id_part_or_whole_name_masked_and_audited(
    client_for, ra_sales, partners
):
    make_customer(partners["ra"], "cust-alpha-1", name="北京星河科技")
    make_customer(partners["ra"], "cust-beta-2", name="上海云帆")
    client = client_for(ra_sales)
    url = reverse("billing:quote-customers")
    by_id = client.get(url, {"q": "alpha"}, headers=HTMX).content.decode()
    assert "cust-alpha-1" in by_id and "cust-beta-2" not in by_id
    assert "北*****" in by_id and "北京星河科技" not in by_id
    assert not AuditEvent.objects.filter(action="customer_search").exists()  # ids are free
    # A part of a name finds nothing (whole values only); the whole name finds the customer, audited.
    assert "cust-alpha-1" not in client.get(url, {"q": "北京星河"}, headers=HTMX).content.decode()
    whole = client.get(url, {"q": "北京星河科技"}, headers=HTMX).content.decode()
    assert "cust-alpha-1" in whole and "北京星河科技" not in whole
    assert AuditEvent.objects.filter(action="customer_search").count() == 2
    # A plain request (not htmx) goes to the inquiry page.
    assert client.get(url, {"q": "alpha"})["Location"] == reverse("billing:quote")
    # Picking puts the id into the form with the masked name.
    picked = client.get(url, {"pick": "cust-alpha-1"}, headers=HTMX).content.decode()
    assert 'value="cust-alpha-1"' in picked and "北*****" in picked


# --- roles, methods, htmx -----------------------------------------------------------------------------------


QUOTE_URLS = ["billing:quote", "billing:quote-choices", "billing:quote-customers", "billing:quote-export"]


@pytest.mark.parametrize("name", [*QUOTE_URLS, "billing:quote-print"])
def test_a_viewer_may_not_quote(client_for, ra_viewer, name):
    assert client_for(ra_viewer).get(reverse(name), VM).status_code == 403


@pytest.mark.parametrize("name", [*QUOTE_URLS, "billing:quote-print"])
def test_quote_urls_answer_get_only_and_send_anonymous_users_to_sign_in(client, client_for, ra_sales, name):
    assert client.get(reverse(name)).status_code == 302
    assert client_for(ra_sales).post(reverse(name)).status_code == 405


def test_the_navigation_offers_the_inquiry_to_sales_not_to_viewers(client_for, ra_sales, ra_viewer):
    link = f'href="{reverse("billing:quote")}"'
    assert link in client_for(ra_sales).get(reverse("portal:dashboard")).content.decode()
    assert link not in client_for(ra_viewer).get(reverse("portal:dashboard")).content.decode()


def test_an_htmx_inquiry_answers_with_the_form_and_quote_only(client_for, ra_sales):
    response = client_for(ra_sales).get(reverse("billing:quote"), VM, headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="quote"' in body and "¥741.60" in body
    assert response["Vary"].count("HX-Request") == 1


# --- the cascade and the catalogue cache ------------------------------------------------------------------


def test_the_choosers_cascade_from_service_type_to_specs(client_for, ra_sales):
    client = client_for(ra_sales)
    url = reverse("billing:quote-choices")
    body = client.get(url, {"region": "cn-north-4"}, headers=HTMX).content.decode()
    assert 'value="hws.service.type.ec2"' in body and "Elastic Cloud Server" in body
    assert 'value="hws.resource.type.vm"' not in body
    body = client.get(
        url, {"region": "cn-north-4", "service_type": "hws.service.type.vpc"}, headers=HTMX
    ).content.decode()
    assert 'value="hws.resource.type.ip"' in body and 'value="hws.resource.type.bandwidth"' in body
    assert 'value="hws.resource.type.vm"' not in body
    body = client.get(url, {**VM, "spec": ""}, headers=HTMX).content.decode()
    assert 'value="c7.xlarge.2.linux"' in body and 'value="SSD"' not in body
    assert 'name="size"' not in body
    body = client.get(url, {**DISK, "spec": ""}, headers=HTMX).content.decode()
    assert 'value="SSD"' in body and 'name="size"' in body and "Size (GB)" in body
    # Another service type: its resource types, and no specs of the old one.
    body = client.get(url, {**VM, "service_type": "hws.service.type.ebs"}, headers=HTMX).content.decode()
    assert 'value="hws.resource.type.volume"' in body and 'value="c7.xlarge.2.linux"' not in body


def test_the_catalogue_is_read_from_the_cache_after_the_first_time(client_for, ra_sales, upstream_sim):
    client = client_for(ra_sales)
    url = reverse("billing:quote-choices")
    operations = ("ListServiceTypes", "ListResourceTypes", "ListResourceSpecs")
    client.get(url, VM, headers=HTMX)
    before = {op: calls(upstream_sim, op) for op in operations}
    for _ in range(3):
        assert 'value="c7.xlarge.2.linux"' in client.get(url, VM, headers=HTMX).content.decode()
    assert {op: calls(upstream_sim, op) for op in operations} == before
    # Names follow the reader's language (cached per language).
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    assert "弹性云服务器" in client.get(url, VM, headers=HTMX).content.decode()


# --- exports ---------------------------------------------------------------------------------------------


def test_the_quote_exports_as_csv_with_the_customer_masked(client_for, ra_sales, partners):
    customer = make_customer(partners["ra"], "q-csv", name="北京星河科技")
    partner_discount(customer, "0.85")
    response = client_for(ra_sales).get(reverse("billing:quote-export"), {**DISK, "customer": "q-csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Cache-Control"].startswith("max-age=0")
    rows = dict(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows["Region"] == "CN East-Shanghai1 (cn-east-3)"
    assert rows["Spec"].startswith("SSD · ") and rows["Size"] == "100 GB"
    assert rows["Quantity"] == "2" and rows["Usage (hours)"] == "720"
    assert rows["On-demand price (list)"] == "201.60"
    assert rows["Customer's price"] == "171.36"  # 201.6 × 0.85
    assert rows["Customer"] == "北*****" and rows["Customer ID"] == "q-csv"
    assert rows["Discount applied"].startswith("Partner discount 0.8500")
    assert "北京星河科技" not in response.content.decode("utf-8-sig")


def test_the_printable_quote_shows_the_prices(client_for, ra_sales):
    response = client_for(ra_sales).get(reverse("billing:quote-print"), VM)
    body = response.content.decode()
    assert response.status_code == 200 and "¥741.60" in body and "data-print" in body
    assert "Reseller A" in body


def test_an_export_without_a_valid_quote_goes_back_to_the_form(client_for, ra_sales):
    client = client_for(ra_sales)
    response = client.get(reverse("billing:quote-export"), {**VM, "hours": "0"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("billing:quote") + "?")
    response = client.get(reverse("billing:quote-print"))
    assert response.status_code == 302 and response["Location"] == reverse("billing:quote")


# --- queries ----------------------------------------------------------------------------------------------


def test_a_customers_quote_costs_the_same_queries_whatever_its_discounts(client_for, ra_sales, partners):
    client = client_for(ra_sales)
    few, many = make_customer(partners["ra"], "q-few"), make_customer(partners["ra"], "q-many")
    commercial_discount(few, "0.9")
    for n in range(1, 21):
        commercial_discount(many, f"0.{n + 50}", n=n)
    partner_discount(many, "0.85")
    get_quote(client, **VM, customer="q-few")  # the catalogue is cached, the session warm
    counts = []
    for customer_id in ("q-few", "q-many"):
        with CaptureQueriesContext(connection) as queries:
            assert get_quote(client, **VM, customer=customer_id).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
