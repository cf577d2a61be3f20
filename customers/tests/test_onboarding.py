"""Creating a customer (issue 14): the account-name rules and checks, the create through the outbox with
reconciliation (an apply-then-time-out makes one account), concurrent creates, the views' standard cases."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from customers.models import Customer, CustomerApplication
from customers.onboarding import OnboardingError, apply_for_customer, regions
from upstream import outbox
from upstream.client import UpstreamClient
from upstream.models import OutboxCommand

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages are matched in English (the site default is Chinese); codes may be sent again at once."""
    settings.LANGUAGE_CODE = "en"
    settings.STEP_UP_RESEND_SECONDS = 0


@pytest.fixture
def no_broker(monkeypatch):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)


def fresh_name() -> str:
    return f"new-{uuid.uuid4().hex[:10]}{next(_seq)}"


def drain():
    with UpstreamClient.from_settings(rate_limit=0) as client:
        return outbox.drain(client=client)


def upstream_accounts(name: str, indirect=None) -> list:
    """The partner's customers upstream whose account name is exactly `name`."""
    with UpstreamClient.from_settings(rate_limit=0) as client:
        found = client.iter_all(client.list_sub_customers, account_name=name, indirect_partner_id=indirect)
        return [c for c in found if c.account_name == name]


def fresh_phone() -> str:
    return f"13{uuid.uuid4().int % 10**9:09d}"


def email_code(email: str) -> str:
    """The code in the latest email the portal sent to `email` (the message log, as /dev/outbox/ shows it)."""
    import re

    from accounts.models import Message

    message = Message.objects.filter(recipient=email, tag="onboarding-contact-code").first()
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def sms_code(mobile: str) -> str:
    """The latest code the platform (the simulator) texted to `mobile`."""
    import json
    import urllib.parse
    import urllib.request

    from django.conf import settings

    query = urllib.parse.urlencode({"mobile_phone": mobile})
    url = f"{settings.UPSTREAM_ENDPOINT}/_sim/onboarding/verification-codes?{query}"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the test's simulator
        return json.loads(response.read())["codes"][0]["code"]


def verified_contacts(client, email: str | None = None, phone: str | None = None) -> dict:
    """The contact fields with their codes, as a person fills them in: each code asked for with the form's
    button, and read where it arrives (the portal's email in the message log, the platform's SMS)."""
    email = email or f"c-{uuid.uuid4().hex[:10]}@example.com"
    phone = phone or fresh_phone()
    url = reverse("customers:contact-code")
    for channel, field, value in (("email", "contact_email", email), ("sms", "contact_phone", phone)):
        answer = client.post(url, {"channel": channel, field: value}, HTTP_HX_REQUEST="true").content.decode()
        assert 'data-sent="1"' in answer, answer
    return {
        "contact_email": email,
        "email_code": email_code(email),
        "contact_phone": phone,
        "phone_code": sms_code(phone),
    }


def new_customer(client, *, contacts: bool = True, **fields):
    data = {"account_name": fresh_name(), "display_name": "", "association_type": "2", "label": "", **fields}
    if contacts:
        data = {**verified_contacts(client), **data}
    return client.post(reverse("customers:new"), data), data["account_name"]


@pytest.mark.django_db
def test_sales_creates_a_resale_customer_that_shows_in_the_list_at_once(
    upstream_settings, ra_sales, client_for, no_broker
):
    client = client_for(ra_sales)
    response, name = new_customer(client, display_name="Acme", label="vip", account_manager=ra_sales.pk)
    application = CustomerApplication.objects.get(account_name=name)
    assert response.status_code == 302 and response.url == reverse(
        "customers:application", args=[application.pk]
    )
    assert client.get(response.url).context["application"].status == "creating"
    assert drain().succeeded == 1
    [upstream] = upstream_accounts(name, indirect="ip-reseller-a")
    assert upstream.association_type == "2"
    application.refresh_from_db()
    customer = application.customer
    assert (application.status, customer.customer_id, customer.partner.upstream_id) == (
        "created",
        upstream.customer_id,
        "ip-reseller-a",
    )
    assert (customer.name, customer.label, customer.account_manager_id) == ("Acme", "vip", ra_sales.pk)
    # The progress page now leads to the customer, which the list shows without waiting for a sync.
    done = client.get(reverse("customers:application", args=[application.pk]))
    assert done.url == reverse("customers:detail", args=[customer.pk])
    assert (
        reverse("customers:detail", args=[customer.pk])
        in client.get(reverse("customers:list")).content.decode()
    )
    actions = set(AuditEvent.objects.filter(target_id=str(application.pk)).values_list("action", flat=True))
    assert actions == {"customer_application_filed", "customer_application_created"}


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["CN-13\n", "CN-13-006-002", "\x00", "x" * 300, "CN-1", "CN-١٣", "../CN-13"])
def test_a_region_code_posted_by_hand_lists_nothing_and_asks_nothing(
    upstream_settings, ra_sales, client_for, code
):
    from django.core.cache import cache

    client = client_for(ra_sales)
    response = client.get(reverse("customers:regions"), {"province": code})
    assert response.status_code == 200 and 'value="CN-' not in response.content.decode()
    assert regions(code) == []
    # Nothing cached under a key the poster chose.
    assert not list(cache._cache.get_client().scan_iter(match=cache.make_key("onboarding:regions:*")))


@pytest.mark.django_db
def test_the_address_is_picked_province_then_city_then_county(
    upstream_settings, ra_sales, client_for, no_broker
):
    client = client_for(ra_sales)
    regions = reverse("customers:regions")
    page = client.get(reverse("customers:new")).content.decode()
    assert 'value="CN-13"' in page and "河北省" in page  # the provinces, from the platform
    cities = client.get(regions, {"province": "CN-13"}).content.decode()
    assert 'value="CN-13-006"' in cities and "保定市" in cities
    counties = client.get(regions, {"city": "CN-13-001"}).content.decode()
    county = counties.split('value="CN-13-001-')[1].split('"')[0]
    # Cached: asking again does not call the platform (the simulator stopped answering would show it).
    endpoint, upstream_settings.UPSTREAM_ENDPOINT = upstream_settings.UPSTREAM_ENDPOINT, "http://127.0.0.1:9"
    assert client.get(regions, {"province": "CN-13"}).content.decode() == cities
    upstream_settings.UPSTREAM_ENDPOINT = endpoint
    response, name = new_customer(
        client, province="CN-13", city="CN-13-001", county=f"CN-13-001-{county}", address="中山路 1 号"
    )
    assert response.status_code == 302
    application = CustomerApplication.objects.get(account_name=name)
    assert (application.province_code, application.city_code, application.county_code) == (
        "CN-13",
        "CN-13-001",
        f"CN-13-001-{county}",
    )


@pytest.mark.django_db
def test_an_incomplete_or_mismatched_address_is_refused(upstream_settings, ra_sales, client_for):
    client = client_for(ra_sales)
    response, _ = new_customer(client, contacts=False, province="CN-13")
    assert response.context["form"].non_field_errors() == [
        "Choose the province, the city and the county, or none of them."
    ]
    response, _ = new_customer(
        client, contacts=False, province="CN-11", city="CN-13-006", county="CN-13-006-001"
    )
    assert "city" in response.context["form"].errors  # a city of another province
    response, _ = new_customer(client, contacts=False, province="CN-99", city="x", county="y")
    assert "province" in response.context["form"].errors
    assert not CustomerApplication.objects.exists()


@pytest.mark.django_db
def test_a_referral_customer_is_created_as_referral(upstream_settings, ra_admin, client_for, no_broker):
    _response, name = new_customer(client_for(ra_admin), association_type="1")
    drain()
    [upstream] = upstream_accounts(name, indirect="ip-reseller-a")
    assert upstream.association_type == "1"
    assert Customer.objects.get(customer_id=upstream.customer_id).association_type == "1"


@pytest.mark.django_db
def test_a_create_applied_upstream_then_timed_out_is_found_and_not_created_again(
    private_upstream, ra_sales, no_broker, settings
):
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    name = fresh_name()
    application = apply_for_customer(ra_sales, {"account_name": name})
    private_upstream.set_faults(
        apply_then_timeout={"operations": ["CreateSubCustomer"], "rate": 1.0, "hang_seconds": 1}
    )
    first = drain()
    private_upstream.clear_faults()
    command = OutboxCommand.objects.get(object_id=str(application.pk), kind="customers.create_sub_customer")
    assert (first.unknown, command.status) == (1, "unknown")
    assert CustomerApplication.objects.get(pk=application.pk).status == "creating"
    time.sleep(0.6)
    again = drain()
    assert (again.reconciled_found, again.sent) == (1, 0)
    command.refresh_from_db()
    assert command.status == "succeeded" and command.result["reconciled"] is True
    [upstream] = upstream_accounts(name, indirect="ip-reseller-a")  # exactly one account
    application.refresh_from_db()
    assert application.status == "created" and application.customer.customer_id == upstream.customer_id


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("ab", "5 to 32 letters, digits"),
        ("1abcdef", "5 to 32 letters, digits"),
        ("_abcdef", "5 to 32 letters, digits"),
        ("a" * 33, "at most 32 characters"),
        ("bad name!", "5 to 32 letters, digits"),
        ("../../etc", "5 to 32 letters, digits"),
        ("op_customer", "cannot start with"),
        ("Shadow_abc", "cannot start with"),
    ],
)
def test_malformed_account_names_are_refused_and_nothing_is_created(ra_sales, client_for, name, message):
    response, _ = new_customer(client_for(ra_sales), contacts=False, account_name=name)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["account_name"])
    assert not CustomerApplication.objects.exists() and not OutboxCommand.objects.exists()


@pytest.mark.django_db
def test_a_name_taken_by_a_customer_or_an_open_application_is_refused(
    ra_sales, client_for, make_customer, upstream_settings, no_broker
):
    make_customer("rb", account_name="taken-name1")
    apply_for_customer(ra_sales, {"account_name": "Open-Name1"})
    client = client_for(ra_sales)
    for name in ("TAKEN-name1", "open-name1"):  # names are compared without regard to case
        response, _ = new_customer(client, contacts=False, account_name=name)
        assert response.context["form"].errors["account_name"] == ["This account name is taken."]
    assert CustomerApplication.objects.count() == OutboxCommand.objects.count() == 1


@pytest.mark.django_db
def test_a_name_taken_on_the_platform_fails_the_application_and_frees_the_name(
    upstream_settings, ra_sales, no_broker
):
    name = fresh_name()
    with UpstreamClient.from_settings(rate_limit=0) as client:  # someone else registers it meanwhile
        client.create_sub_customer(xaccount_id=f"other-{name}", xaccount_type="other", account_name=name)
    application = apply_for_customer(ra_sales, {"account_name": name})
    assert drain().failed == 1
    application.refresh_from_db()
    assert application.status == "failed" and application.error
    assert application.customer is None and not upstream_accounts(name, indirect="ip-reseller-a")
    # A failed application does not hold the name in the portal (the platform still refuses it).
    assert CustomerApplication.objects.open_or_created().filter(account_name=name).count() == 0


@pytest.mark.django_db
def test_the_check_as_you_type_asks_the_platform(upstream_settings, ra_sales, client_for, make_customer):
    client = client_for(ra_sales)
    make_customer("ra", account_name="mine-taken")
    url = reverse("customers:account-name-check")
    assert "is available" in client.get(url, {"account_name": fresh_name()}).content.decode()
    assert "is taken" in client.get(url, {"account_name": "mine-taken"}).content.decode()
    assert "5 to 32" in client.get(url, {"account_name": "x"}).content.decode()
    name = fresh_name()
    with UpstreamClient.from_settings(rate_limit=0) as upstream:
        upstream.create_sub_customer(xaccount_id=f"o-{name}", xaccount_type="other", account_name=name)
    assert "is taken" in client.get(url, {"account_name": name.upper()}).content.decode()


@pytest.mark.django_db
def test_the_check_says_so_when_the_platform_cannot_be_asked(ra_sales, client_for, settings):
    settings.UPSTREAM_ENDPOINT = "http://127.0.0.1:9"
    body = client_for(ra_sales).get(reverse("customers:account-name-check"), {"account_name": fresh_name()})
    assert "could not be asked now" in body.content.decode()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_with_one_name_make_one_application(partners, make_staff, no_broker):
    first, second = make_staff("ra", "sales"), make_staff("ra", "admin")
    name = fresh_name()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def create(user):
        try:
            barrier.wait()
            apply_for_customer(user, {"account_name": name})
            outcomes.append("filed")
        except OnboardingError as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(user,)) for user in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["This account name is taken.", "filed"]
    assert CustomerApplication.objects.filter(account_name=name).count() == 1
    assert OutboxCommand.objects.filter(kind="customers.create_sub_customer").count() == 1


@pytest.mark.django_db
def test_roles_and_tenancy(ra_finance, ra_viewer, rb_admin, ra_sales, client_for, client, no_broker):
    new = reverse("customers:new")
    assert client.get(new).status_code == 302  # anonymous: to the sign-in page
    for user in (ra_finance, ra_viewer):
        assert client_for(user).get(new).status_code == 403
    application = apply_for_customer(ra_sales, {"account_name": fresh_name()})
    page = reverse("customers:application", args=[application.pk])
    assert client_for(rb_admin).get(page).status_code == 404  # another partner's application does not exist
    assert client_for(ra_sales).get(page).status_code == 200
    assert client_for(ra_sales).get(new).status_code == 200


@pytest.mark.django_db
def test_the_dashboard_funnel_counts_this_months_created_verified_and_allocated(
    partners, ra_sales, ra_finance, client_for, make_customer
):
    from decimal import Decimal

    from billing.models import Adjustment

    def created(**fields) -> Customer:
        customer = make_customer("ra", **fields)
        CustomerApplication.objects.create(
            partner=partners["ra"], account_name=customer.account_name, status="created", customer=customer
        )
        return customer

    created(verified_status=-1)
    verified = created(verified_status=2)
    funded = created(verified_status=2)
    Adjustment.objects.create(
        partner=partners["ra"], customer=funded, kind="allocate", amount=Decimal("100.00"), status="succeeded"
    )
    Adjustment.objects.create(  # a failed allocation is no first allocation
        partner=partners["ra"], customer=verified, kind="allocate", amount=Decimal("5.00"), status="failed"
    )
    old = created(verified_status=2)  # created last month: not this month's
    CustomerApplication.objects.filter(customer=old).update(created_at=timezone.now() - timedelta(days=40))
    body = client_for(ra_sales).get(reverse("portal:dashboard")).content.decode()
    for key, value in (("created", 3), ("verified", 2), ("allocated", 1)):
        assert f'data-testid="funnel-{key}">{value}<' in body, key
    assert "tile-funnel" not in client_for(ra_finance).get(reverse("portal:dashboard")).content.decode()
