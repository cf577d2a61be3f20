"""Partner discounts, commercial discounts and dedicated offers: services, pages, bad input (issue 10)."""

from __future__ import annotations

import csv
import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import AuditEvent
from billing import services
from billing.models import (
    CommercialDiscount,
    DedicatedOffer,
    DiscountStateError,
    OfferStateError,
    PartnerDiscount,
)
from customers.models import Customer
from upstream import outbox
from upstream.models import OutboxCommand

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def english(client):
    """Pages in English (the messages asserted here); test_i18n covers the Chinese catalogue."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def no_broker(monkeypatch):
    calls: list = []
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: calls.append(key))
    return calls


def make_customer(partner, customer_id: str, association_type: str = "1", **fields) -> Customer:
    fields.setdefault("name", "张伟伟")
    fields.setdefault("account_name", f"acct-{customer_id}")
    fields.setdefault("email", f"{customer_id}@customer.example.com")
    return Customer.objects.create(
        partner=partner, customer_id=customer_id, association_type=association_type, **fields
    )


@pytest.fixture
def referral(partners):
    return make_customer(partners["ra"], "ref-1")


@pytest.fixture
def resale(partners):
    return make_customer(partners["ra"], "res-1", association_type="2")


def soon(**delta):
    return timezone.now() + timedelta(minutes=1, **delta)


def set_discount(customer, rate="0.85", effective=None, expire=None, by=None):
    effective = effective or soon()
    return services.set_partner_discount(
        customer=customer,
        rate=rate,
        effective_time=effective,
        expire_time=expire or effective + timedelta(days=90),
        requested_by=by,
    )


def snapshot():
    """What a refusal must leave unchanged: the discounts, offers and outbox commands."""
    return (
        list(PartnerDiscount.objects.order_by("pk").values()),
        list(DedicatedOffer.objects.order_by("pk").values()),
        OutboxCommand.objects.count(),
    )


# --- partner discounts: services ---------------------------------------------------------------------------


def test_setting_a_discount_writes_it_and_its_outbox_command_together(referral, ra_finance, no_broker):
    discount = set_discount(referral, "0.85", by=ra_finance)
    command = OutboxCommand.objects.get(kind=services.SET_DISCOUNT)
    assert discount.rate == Decimal("0.8500") and discount.push_status == "pending"
    assert command.payload["discount"] == "0.8500" and command.payload["customer_id"] == "ref-1"
    assert command.payload["indirect_partner_id"] == "ip-reseller-a"
    assert command.object_id == str(discount.pk)
    assert AuditEvent.objects.filter(action="partner_discount_set", owner_partner=referral.partner).exists()


@pytest.mark.parametrize(
    ("rate", "code"),
    [
        ("0.69", "rate_out_of_range"),
        ("1.01", "rate_out_of_range"),
        ("0", "rate_out_of_range"),
        ("0.85001", "rate_too_precise"),
        ("abc", "invalid_rate"),
        ("", "invalid_rate"),
        ("1e-1", "invalid_rate"),
    ],
)
def test_a_bad_rate_is_refused_and_changes_nothing(referral, no_broker, rate, code):
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        set_discount(referral, rate)
    assert refused.value.code == code
    assert snapshot() == before


def test_a_float_rate_is_refused(referral, no_broker):
    with pytest.raises(ValidationError) as refused:
        set_discount(referral, 0.85)
    assert refused.value.code == "invalid_rate"


def test_the_range_is_a_setting(referral, no_broker, settings):
    settings.PARTNER_DISCOUNT_MIN = Decimal("0.50")
    assert set_discount(referral, "0.5").rate == Decimal("0.5000")
    with pytest.raises(ValidationError):
        set_discount(referral, "0.4999")


def test_times_are_checked_and_a_refusal_changes_nothing(referral, no_broker):
    before = snapshot()
    now = timezone.now()
    with pytest.raises(ValidationError) as refused:
        set_discount(referral, effective=now + timedelta(days=2), expire=now + timedelta(days=1))
    assert refused.value.code == "expiry_before"
    with pytest.raises(ValidationError) as refused:
        set_discount(referral, effective=now - timedelta(days=1), expire=now + timedelta(days=1))
    assert refused.value.code == "effective_in_past"
    assert snapshot() == before


def test_a_change_may_keep_an_effective_time_in_the_past_but_not_move_it_there(referral, no_broker):
    discount = set_discount(referral, "0.9")
    start = (timezone.now() - timedelta(days=3)).replace(microsecond=0)
    PartnerDiscount.objects.filter(pk=discount.pk).update(effective_time=start, push_status="applied")
    changed = set_discount(referral, "0.8", effective=start, expire=start + timedelta(days=60))
    assert changed.rate == Decimal("0.8") and changed.revision == 2
    assert changed.previous["rate"] == "0.9000"
    with pytest.raises(ValidationError):
        set_discount(referral, "0.8", effective=start - timedelta(days=1), expire=start + timedelta(days=60))


def test_resale_and_disassociated_customers_are_refused_with_the_reason(resale, referral, no_broker):
    with pytest.raises(ValidationError) as refused:
        set_discount(resale)
    assert refused.value.code == "resale"
    Customer.objects.filter(pk=referral.pk).update(disassociated_at=timezone.now())
    referral.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        set_discount(referral)
    assert refused.value.code == "disassociated"
    assert not PartnerDiscount.objects.exists()


def test_an_answer_to_an_older_change_never_overwrites_a_newer_one(referral, no_broker):
    first = set_discount(referral, "0.9")
    first_payload = dict(OutboxCommand.objects.get().payload)
    set_discount(referral, "0.8")
    services.apply_discount_success(first_payload)
    discount = PartnerDiscount.objects.get()
    assert (discount.rate, discount.push_status) == (Decimal("0.8"), "pending")
    assert first.pk == discount.pk


def test_a_refused_change_goes_back_to_the_values_in_force(referral, no_broker):
    discount = set_discount(referral, "0.9")
    services.apply_discount_success(OutboxCommand.objects.get().payload)
    set_discount(referral, "0.75")
    services.apply_discount_failure(
        OutboxCommand.objects.order_by("pk").last().payload, "Not allowed (CBC.5024)"
    )
    discount.refresh_from_db()
    assert (discount.rate, discount.push_status) == (Decimal("0.9"), "applied")
    assert "CBC.5024" in discount.error_message


def test_a_refused_first_discount_is_marked_refused(referral, no_broker):
    set_discount(referral, "0.9")
    services.apply_discount_failure(OutboxCommand.objects.get().payload, "Refused")
    discount = PartnerDiscount.objects.get()
    assert discount.push_status == "refused"
    assert not PartnerDiscount.objects.effective(soon(days=1)).exists()


def test_the_discount_state_machine_refuses_illegal_moves(referral, no_broker):
    discount = set_discount(referral)
    discount.mark_applied()
    with pytest.raises(DiscountStateError):
        discount.mark_applied()
    with pytest.raises(DiscountStateError):
        discount.mark_refused("x")


def test_bulk_set_reports_each_customer(partners, referral, resale, no_broker):
    other = make_customer(partners["ra"], "ref-2")
    with translation.override("en"):
        results = services.set_partner_discounts(
            customers=[referral, resale, other], rate="0.88", effective_time=soon(), expire_time=soon(days=30)
        )
    assert [(r.customer.customer_id, bool(r.discount)) for r in results] == [
        ("ref-1", True),
        ("res-1", False),
        ("ref-2", True),
    ]
    assert "resale" in results[1].error
    assert OutboxCommand.objects.filter(kind=services.SET_DISCOUNT).count() == 2


def test_the_price_effect_and_the_effective_rate_rule():
    assert services.price_after(Decimal("0.85")) == Decimal("850.00")
    assert services.price_after(Decimal("0.8888")) == Decimal("888.80")
    # Not stacked: the lowest rate in force applies.
    assert services.effective_rate(Decimal("0.85"), [Decimal("0.9")]) == Decimal("0.85")
    assert services.effective_rate(Decimal("0.95"), [Decimal("0.9"), Decimal("0.8")]) == Decimal("0.8")
    assert services.effective_rate(None, []) is None


def test_validity_filters_follow_the_clock(referral, partners, no_broker):
    discount = set_discount(referral)
    discount.mark_applied()
    rows = PartnerDiscount.objects.all()
    assert rows.not_yet_effective().count() == 1
    later = discount.effective_time + timedelta(days=1)
    assert rows.effective(later).count() == 1 and rows.expiring_within(7, later).count() == 0
    assert rows.expiring_within(7, discount.expire_time - timedelta(days=3)).count() == 1
    assert rows.expired(discount.expire_time).count() == 1


# --- dedicated offers: services ---------------------------------------------------------------------------


def create_offer(customer, name="Spring offer", products="ecs-1, obs-2", **kwargs):
    return services.create_dedicated_offer(
        customer=customer,
        name=name,
        product_ids=products,
        effective_time=kwargs.get("effective", soon()),
        expire_time=kwargs.get("expire", soon(days=30)),
        requested_by=kwargs.get("by"),
    )


def test_creating_an_offer_writes_it_and_its_command(referral, no_broker):
    offer = create_offer(referral)
    assert offer.status == "CREATING" and offer.offer_id is None
    assert offer.product_ids == ["ecs-1", "obs-2"]
    command = OutboxCommand.objects.get(kind=services.CREATE_OFFER)
    assert command.payload["customer_account_name"] == "acct-ref-1"


@pytest.mark.parametrize(
    ("name", "products", "code"),
    [
        ("", "ecs", "no_name"),
        ("x" * 65, "ecs", "name_too_long"),
        ("ok", "", "no_products"),
        ("ok", ",".join(f"p{i}" for i in range(21)), "too_many_products"),
        ("ok", "p" * 65, "product_too_long"),
    ],
)
def test_bad_offers_are_refused_and_change_nothing(referral, no_broker, name, products, code):
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        create_offer(referral, name=name, products=products)
    assert refused.value.code == code
    assert snapshot() == before


def test_an_offer_name_is_unique_per_partner(partners, referral, no_broker):
    create_offer(referral, name="Dup")
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        create_offer(referral, name="Dup")
    assert refused.value.code == "name_taken" and snapshot() == before
    # Another partner may use the name.
    create_offer(make_customer(partners["rb"], "rb-1"), name="Dup")


def test_a_refused_create_frees_the_name(referral, no_broker):
    offer = create_offer(referral, name="Again")
    offer.mark_create_failed("refused")
    assert create_offer(referral, name="Again").status == "CREATING"


@pytest.mark.django_db(transaction=True)
def test_two_creates_with_the_same_name_at_once_make_one_offer(partners, monkeypatch):
    monkeypatch.setattr(outbox, "schedule_drain", lambda key=None, *, countdown=None: None)
    customer = make_customer(partners["ra"], "conc-1")
    barrier = threading.Barrier(4)
    outcomes: list = []

    def create():
        try:
            barrier.wait()
            create_offer(customer, name="Race")
            outcomes.append("ok")
        except ValidationError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["name_taken"] * 3 + ["ok"]
    assert DedicatedOffer.objects.filter(name="Race").count() == 1
    assert OutboxCommand.objects.filter(kind=services.CREATE_OFFER).count() == 1


def active_offer(partner, name="Live", **fields):
    fields.setdefault("expire_time", timezone.now() + timedelta(days=10))
    return DedicatedOffer.objects.create(
        partner=partner,
        offer_id=f"off-{name}",
        name=name,
        customer_account_name="acct-x",
        status="ACTIVE",
        effective_time=timezone.now() - timedelta(days=1),
        **fields,
    )


def test_invalidating_an_offer_needs_a_reason_and_shows_invalidating(partners, no_broker):
    offer = active_offer(partners["ra"])
    with pytest.raises(ValidationError) as refused:
        services.invalidate_dedicated_offer(offer=offer, reason="  ")
    assert refused.value.code == "no_reason"
    offer = services.invalidate_dedicated_offer(offer=offer, reason="Customer left")
    assert offer.is_invalidating and offer.status == "ACTIVE"
    assert OutboxCommand.objects.get(kind=services.INVALIDATE_OFFER).payload["offer_id"] == "off-Live"
    with pytest.raises(ValidationError) as refused:
        services.invalidate_dedicated_offer(offer=offer, reason="again")
    assert refused.value.code == "invalidating"


@pytest.mark.parametrize("status", ["INVALIDATED", "EXPIRED"])
def test_an_invalidated_or_expired_offer_cannot_be_invalidated(partners, no_broker, status):
    offer = active_offer(partners["ra"])
    DedicatedOffer.objects.filter(pk=offer.pk).update(status=status)
    before = snapshot()
    with pytest.raises(ValidationError) as refused:
        services.invalidate_dedicated_offer(offer=offer, reason="x")
    assert refused.value.code == "not_active" and snapshot() == before


def test_an_offer_past_its_expiry_is_expired_rather_than_invalidated(partners, no_broker):
    offer = active_offer(partners["ra"], expire_time=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError) as refused:
        services.invalidate_dedicated_offer(offer=offer, reason="x")
    assert refused.value.code == "not_active"
    offer.refresh_from_db()
    assert offer.status == "EXPIRED"


def test_the_offer_state_machine_refuses_illegal_moves(partners):
    offer = active_offer(partners["ra"])
    offer.mark_invalidated()
    for move in (
        offer.mark_expired,
        lambda: offer.mark_created("x"),
        lambda: offer.request_invalidation("r"),
    ):
        with pytest.raises(OfferStateError):
            move()


# --- pages --------------------------------------------------------------------------------------------------

LIST_URLS = ("billing:discounts", "billing:commercial-discounts", "billing:offers")
LIST_QUERIES = 3


@pytest.fixture
def data(partners, referral, no_broker):
    discount = set_discount(referral, "0.85")
    services.apply_discount_success(OutboxCommand.objects.get().payload)
    CommercialDiscount.objects.create(
        partner=partners["ra"],
        customer=referral,
        customer_upstream_id="ref-1",
        discount_id="cd-1",
        business_name="Contract 2026",
        discount_type=605,
        status="EFFECTIVE",
        discount_rate=Decimal("0.9000"),
    )
    offer = active_offer(partners["ra"], customer=referral)
    other = make_customer(partners["rb"], "rb-x")
    set_discount(other, "0.77")
    active_offer(partners["rb"], name="Theirs")
    return {"discount": PartnerDiscount.objects.get(pk=discount.pk), "offer": offer}


@pytest.mark.parametrize("name", LIST_URLS)
def test_the_lists_show_only_the_tenants_rows_in_full_and_htmx(client_for, ra_finance, data, name):
    client = client_for(ra_finance)
    page = client.get(reverse(name))
    assert page.status_code == 200 and b"<html" in page.content
    text = page.content.decode()
    assert "rb-x" not in text and "Theirs" not in text and "0.77" not in text
    fragment = client.get(reverse(name), headers=HTMX)
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    assert b'id="discount-list"' in fragment.content


def test_the_partner_tab_shows_the_price_effect_and_masks_names(client_for, ra_finance, data):
    text = client_for(ra_finance).get(reverse("billing:discounts")).content.decode()
    assert "¥850.00" in text and "¥1,000.00" in text
    assert "张伟伟" not in text and "张**" in text


def test_the_partner_tab_filters_by_status_customer_and_expiry(
    client_for, ra_finance, data, referral, partners
):
    client = client_for(ra_finance)
    url = reverse("billing:discounts")
    assert 'data-customer="ref-1"' in client.get(url, {"status": "pending"}).content.decode()
    assert 'data-customer="ref-1"' not in client.get(url, {"status": "sending"}).content.decode()
    assert 'data-customer="ref-1"' not in client.get(url, {"status": "refused"}).content.decode()
    assert 'data-customer="ref-1"' not in client.get(url, {"status": "expired"}).content.decode()
    assert 'data-customer="ref-1"' in client.get(url, {"customer": "REF-1"}).content.decode()
    assert 'data-customer="ref-1"' not in client.get(url, {"customer": "nope"}).content.decode()
    assert 'data-customer="ref-1"' not in client.get(url, {"expiring_within": "7"}).content.decode()
    PartnerDiscount.objects.filter(pk=data["discount"].pk).update(
        effective_time=timezone.now() - timedelta(days=1), expire_time=timezone.now() + timedelta(days=3)
    )
    assert 'data-customer="ref-1"' in client.get(url, {"expiring_within": "7"}).content.decode()
    PartnerDiscount.objects.filter(pk=data["discount"].pk).update(push_status="pending")
    assert 'data-customer="ref-1"' in client.get(url, {"status": "sending"}).content.decode()
    bad = client.get(url, {"status": "bogus"})
    assert bad.status_code == 200 and 'data-customer="ref-1"' in bad.content.decode()
    assert "not understood" in bad.content.decode()


def test_the_commercial_tab_filters_by_status_type_and_time(client_for, ra_finance, data):
    client = client_for(ra_finance)
    url = reverse("billing:commercial-discounts")
    assert (
        "Contract 2026" in client.get(url, {"status": "EFFECTIVE", "discount_type": "605"}).content.decode()
    )
    assert "Contract 2026" not in client.get(url, {"discount_type": "606"}).content.decode()
    assert "Contract 2026" not in client.get(url, {"status": "EXPIRED"}).content.decode()


def test_the_offers_tab_filters_by_status(client_for, ra_finance, data, no_broker):
    client = client_for(ra_finance)
    url = reverse("billing:offers")
    assert 'data-offer="Live"' in client.get(url, {"status": "ACTIVE"}).content.decode()
    services.invalidate_dedicated_offer(offer=data["offer"], reason="r")
    assert 'data-offer="Live"' not in client.get(url, {"status": "ACTIVE"}).content.decode()
    text = client.get(url, {"status": "INVALIDATING"}).content.decode()
    assert 'data-offer="Live"' in text and "Invalidating…" in text


def test_the_csv_export_is_masked_and_audited(client_for, ra_finance, data):
    response = client_for(ra_finance).get(reverse("billing:discount-export"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][0] == "张**" and rows[1][2] == "ref-1" and rows[1][3] == "0.8500"
    assert len(rows) == 2
    assert AuditEvent.objects.filter(action="partner_discount_export").exists()


@pytest.mark.parametrize("name", LIST_URLS)
def test_list_queries_do_not_grow_with_rows(client_for, ra_finance, partners, no_broker, name):
    client = client_for(ra_finance)

    def add(n):
        for i in range(n):
            c = make_customer(partners["ra"], f"q-{name}-{PartnerDiscount.objects.count()}-{i}")
            set_discount(c)
            CommercialDiscount.objects.create(
                partner=partners["ra"],
                customer=c,
                customer_upstream_id=c.customer_id,
                discount_id=f"cd-{c.customer_id}",
                business_name="b",
                status="EFFECTIVE",
            )
            active_offer(partners["ra"], name=f"o-{c.customer_id}", customer=c)

    add(2)
    client.get(reverse(name))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(name))
    add(8)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse(name))
    # The user (1), the row count (1) and the page of rows with their joins (1).
    assert len(many) == len(few) == LIST_QUERIES, [q["sql"][:120] for q in many.captured_queries]


def test_viewers_see_no_discount_tabs_and_sales_cannot_set(client_for, ra_viewer, ra_sales, referral):
    assert client_for(ra_viewer).get(reverse("billing:discounts")).status_code == 403
    client = client_for(ra_sales)
    assert client.get(reverse("billing:discounts")).status_code == 200
    assert client.get(reverse("billing:discount-set", args=[referral.pk])).status_code == 403
    assert client.post(reverse("billing:offer-new")).status_code == 403


def test_the_lists_take_no_post_and_send_anonymous_users_to_sign_in(client, client_for, ra_finance):
    for name in LIST_URLS:
        assert client.get(reverse(name))["Location"].startswith("/accounts/login/")
    finance = client_for(ra_finance)
    for name in LIST_URLS:
        assert finance.post(reverse(name)).status_code == 405


def form_times(days: int = 30) -> dict:
    start = timezone.localtime() + timedelta(minutes=10)
    return {
        "effective_time": start.strftime("%Y-%m-%dT%H:%M"),
        "expire_time": (start + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M"),
    }


def test_setting_a_discount_through_the_form(client_for, ra_finance, referral, no_broker):
    client = client_for(ra_finance)
    url = reverse("billing:discount-set", args=[referral.pk])
    assert client.get(url).status_code == 200
    assert client.get(url, headers=HTMX).content.count(b"<html") == 0
    response = client.post(url, {"rate": "0.85", **form_times()})
    assert response.status_code == 302 and response["Location"] == reverse("billing:discounts")
    assert PartnerDiscount.objects.get(customer=referral).rate == Decimal("0.85")
    htmx = client.post(
        url, {"rate": "0.8", "next": f"/customers/{referral.pk}/", **form_times()}, headers=HTMX
    )
    assert htmx["HX-Redirect"] == f"/customers/{referral.pk}/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rate": "0.6"}, "between 0.70 and 1.00"),
        ({"rate": "0.855555"}, "at most 4 decimal places"),
        ({"rate": "0.85", "expire_time": "2020-01-01T00:00"}, "after the effective time"),
        ({"rate": "0.85", "effective_time": "2020-01-01T00:00"}, "cannot be in the past"),
    ],
)
def test_bad_input_on_the_form_shows_a_message_and_changes_nothing(
    client_for, ra_finance, referral, no_broker, data, message
):
    before = snapshot()
    response = client_for(ra_finance).post(
        reverse("billing:discount-set", args=[referral.pk]), {**form_times(), **data}, headers=HTMX
    )
    assert response.status_code == 200 and message in response.content.decode()
    assert snapshot() == before


def test_the_form_explains_why_a_resale_customer_gets_no_discount(client_for, ra_finance, resale, no_broker):
    client = client_for(ra_finance)
    url = reverse("billing:discount-set", args=[resale.pk])
    assert "resale customers" in client.get(url).content.decode()
    client.post(url, {"rate": "0.85", **form_times()})
    assert not PartnerDiscount.objects.exists()


def test_another_tenants_customer_is_404(client_for, rb_admin, referral):
    client = client_for(rb_admin)
    assert client.get(reverse("billing:discount-set", args=[referral.pk])).status_code == 404
    assert client.post(reverse("billing:discount-set", args=[referral.pk])).status_code == 404


def test_bulk_form_shows_per_row_results(client_for, ra_finance, partners, referral, resale, no_broker):
    make_customer(partners["rb"], "rb-hidden")
    client = client_for(ra_finance)
    assert client.get(reverse("billing:discount-bulk"), {"customer": ["ref-1", "res-1"]}).status_code == 200
    response = client.post(
        reverse("billing:discount-bulk"),
        {"customer_ids": "ref-1\nres-1, rb-hidden\nnope", "rate": "0.9", **form_times()},
    )
    text = response.content.decode()
    assert response.status_code == 200 and 'data-testid="bulk-results"' in text
    assert text.count("Being sent") == 1 and text.count("Refused") >= 3
    assert list(PartnerDiscount.objects.values_list("customer__customer_id", flat=True)) == ["ref-1"]


def test_creating_an_offer_through_the_form(client_for, ra_finance, referral, partners, no_broker):
    make_customer(partners["rb"], "rb-cust")
    client = client_for(ra_finance)
    url = reverse("billing:offer-new")
    assert "ref-1" in client.get(url, {"customer": "ref-1"}).content.decode()
    refused = client.post(url, {"customer": "rb-cust", "name": "N", "product_ids": "p", **form_times()})
    assert "No customer with this ID" in refused.content.decode() and not DedicatedOffer.objects.exists()
    response = client.post(url, {"customer": "ref-1", "name": "N", "product_ids": "p1\np2", **form_times()})
    assert response.status_code == 302
    again = client.post(url, {"customer": "ref-1", "name": "N", "product_ids": "p", **form_times()})
    assert "already exists" in again.content.decode()
    assert DedicatedOffer.objects.get().product_ids == ["p1", "p2"]


def test_invalidating_through_the_dialog_asks_for_the_code_when_step_up_is_on(
    client_for, ra_finance, partners, no_broker
):
    offer = active_offer(partners["ra"])
    client = client_for(ra_finance)
    url = reverse("billing:offer-invalidate", args=[offer.pk])
    dialog = client.get(url, headers=HTMX)
    assert dialog.status_code == 200 and b'role="dialog"' in dialog.content
    partners["ra"].require_step_up = True
    partners["ra"].save()
    refused = client.post(url, {"reason": "gone"}, headers=HTMX)
    assert refused.status_code == 200 and "verification code" in refused.content.decode().lower()
    offer.refresh_from_db()
    assert not offer.is_invalidating
    partners["ra"].require_step_up = False
    partners["ra"].save()
    response = client.post(url, {"reason": "gone"})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.is_invalidating and offer.invalidation_reason == "gone"
    again = client.post(url, {"reason": "again"}, headers=HTMX)
    assert "already being invalidated" in again.content.decode()


def test_invalidating_with_a_valid_code_goes_through_and_the_code_is_used_up(
    client_for, ra_finance, partners, no_broker
):
    import re

    from accounts import stepup
    from accounts.models import Message

    offer = active_offer(partners["ra"])
    partners["ra"].require_step_up = True
    partners["ra"].save()
    client = client_for(ra_finance)
    url = reverse("billing:offer-invalidate", args=[offer.pk])
    stepup.send_code(ra_finance, "email")
    body = Message.objects.filter(recipient=ra_finance.email).latest("created_at").body
    code = re.search(r"\b(\d{6})\b", body).group(1)
    response = client.post(url, {"reason": "replaced by a new offer", "code": code})
    assert response.status_code == 302
    offer.refresh_from_db()
    assert offer.is_invalidating and offer.invalidation_reason == "replaced by a new offer"
    # The same code does not work twice.
    other = active_offer(partners["ra"], name="second offer")
    again = client.post(
        reverse("billing:offer-invalidate", args=[other.pk]), {"reason": "x", "code": code}, headers=HTMX
    )
    other.refresh_from_db()
    assert again.status_code == 200 and not other.is_invalidating


def test_another_tenants_offer_is_404(client_for, rb_admin, partners):
    offer = active_offer(partners["ra"])
    client = client_for(rb_admin)
    assert client.get(reverse("billing:offer-invalidate", args=[offer.pk])).status_code == 404
    assert (
        client.post(reverse("billing:offer-invalidate", args=[offer.pk]), {"reason": "x"}).status_code == 404
    )


def test_the_customer_panel_shows_all_three_kinds_and_the_effective_rate(
    client_for, ra_viewer, data, referral
):
    text = client_for(ra_viewer).get(reverse("billing:customer-discounts", args=[referral.pk]), headers=HTMX)
    text = text.content.decode()
    assert 'data-testid="customer-partner-discount"' in text and "Contract 2026" in text and "Live" in text
    # The partner discount (0.85) is not in force yet: the commercial one (0.9) applies alone.
    assert "0.9000" in text.split('data-testid="customer-effective-rate"')[1][:80]
    PartnerDiscount.objects.filter(customer=referral).update(
        effective_time=timezone.now() - timedelta(hours=1)
    )
    text = client_for(ra_viewer).get(reverse("billing:customer-discounts", args=[referral.pk]), headers=HTMX)
    assert "0.8500" in text.content.decode().split('data-testid="customer-effective-rate"')[1][:80]


def test_the_customer_list_offers_set_discount_for_referral_customers(
    client_for, ra_finance, ra_sales, referral, resale
):
    text = client_for(ra_finance).get(reverse("customers:list")).content.decode()
    assert reverse("billing:discount-set", args=[referral.pk]) in text
    assert reverse("billing:discount-set", args=[resale.pk]) not in text
    assert "row-set-discount" not in client_for(ra_sales).get(reverse("customers:list")).content.decode()


def test_the_billing_urls_answer_as_the_walk_says(client, client_for, rb_admin, partners):
    """The URL walk (accounts/tests/urlwalk.py) for this issue's URLs alone."""
    from accounts.tests.test_tenancy import _url_for
    from accounts.tests.urlwalk import EXPECTED_STATUS, staff_patterns

    ours = [
        (n, e) for n, e in staff_patterns() if n.startswith("billing:") and ("discount" in n or "offer" in n)
    ]
    assert len(ours) >= 9
    outsider = client_for(rb_admin)
    for view_name, entry in ours:
        url, _has_args = _url_for((view_name, entry), partners)
        (anon_get, anon_post), (out_get, out_post) = EXPECTED_STATUS[view_name]
        client.logout()
        assert (client.get(url).status_code, client.post(url).status_code) == (anon_get, anon_post), url
        outsider = client_for(rb_admin)
        assert (outsider.get(url).status_code, outsider.post(url).status_code) == (out_get, out_post), url


# --- the state machines, as properties ---------------------------------------------------------------------

OFFER_MOVES = {
    "created": lambda o: o.mark_created(f"id-{o.pk}"),
    "create_failed": lambda o: o.mark_create_failed("no"),
    "invalidate": lambda o: o.request_invalidation("why"),
    "invalidated": lambda o: o.mark_invalidated(),
    "expired": lambda o: o.mark_expired(),
}


@given(moves=st.lists(st.sampled_from(sorted(OFFER_MOVES)), max_size=8))
@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_an_offer_only_ever_makes_the_moves_its_table_allows(partners, moves):
    DedicatedOffer.objects.all().delete()
    offer = DedicatedOffer.objects.create(
        partner=partners["ra"], name="prop", customer_account_name="a", status="CREATING"
    )
    for move in moves:
        before = (offer.status, offer.is_invalidating)
        try:
            OFFER_MOVES[move](offer)
        except OfferStateError:
            offer.refresh_from_db()
            assert (offer.status, offer.is_invalidating) == before
            continue
        if move == "invalidate":
            assert before == ("ACTIVE", False) and offer.is_invalidating
        else:
            assert offer.status in DedicatedOffer.TRANSITIONS[before[0]]
        stored = DedicatedOffer.objects.get(pk=offer.pk)
        assert (stored.status, stored.is_invalidating) == (offer.status, offer.is_invalidating)


def test_ticked_customers_of_the_list_open_the_bulk_form_prefilled(
    client_for, ra_finance, partners, referral
):
    other = make_customer(partners["ra"], "ref-2")
    client = client_for(ra_finance)
    text = client.get(reverse("customers:list")).content.decode()
    assert 'form="discount-pick"' in text and 'id="discount-pick"' in text
    assert f'value="{referral.customer_id}" form="discount-pick"' in text
    form = client.get(
        reverse("billing:discount-bulk"), {"customer": [referral.customer_id, other.customer_id]}
    )
    assert f"{referral.customer_id}\n{other.customer_id}" in form.content.decode()


def test_the_navigation_offers_discounts_to_those_who_may_see_them(client_for, ra_finance, ra_viewer):
    url = reverse("billing:discounts")
    assert f'href="{url}"' in client_for(ra_finance).get("/").content.decode()
    assert f'href="{url}"' not in client_for(ra_viewer).get("/").content.decode()
