"""关联关系操作记录 (/customers/associations/) and the rollup (AssociationDay) for the dashboard."""

from __future__ import annotations

import csv
import io
import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import (
    AssociationDay,
    AssociationEvent,
    AssociationType,
    Customer,
    CustomerTally,
    CustomerWarning,
    WarningTally,
)

RECORDS = reverse("customers:associations")
EXPORT = reverse("customers:associations-export")
Op = AssociationEvent.Operation

_seq = itertools.count(1)


@pytest.fixture
def make_event(make_customer):
    """make_event(customer, Op.SWITCH, at=...) → an association event of that customer (its partner's)."""

    def make(customer=None, operation=Op.ASSOCIATE, at=None, **fields) -> AssociationEvent:
        n = next(_seq)
        customer = customer or make_customer("ra")
        values = {
            "partner": customer.partner,
            "customer": customer,
            "customer_upstream_id": customer.customer_id,
            "record_id": f"rec-{n:06d}",
            "operation": operation,
            "association_type": customer.association_type,
            "occurred_at": at or datetime(2026, 3, 10, 12, 0, tzinfo=UTC) - timedelta(minutes=n),
            "initiator": AssociationEvent.Initiator.PARTNER,
        }
        values.update(fields)
        return AssociationEvent.objects.create(**values)

    return make


def shown(response) -> set[str]:
    """The record ids of the rows a response lists."""
    import re

    return set(re.findall(r'data-record="([^"]+)"', response.content.decode()))


# --- the records page -----------------------------------------------------------------------------------


@pytest.fixture
def records(make_customer, make_event):
    """Six events of Reseller A's customers and one of Reseller B's, each differing in one filtered value."""
    referral = make_customer("ra", association_type=AssociationType.REFERRAL, customer_id="cust-ref-1")
    resale = make_customer("ra", customer_id="cust-res-1", name="李雷", account_name="lilei-acct")
    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    return {
        "assoc": make_event(resale, Op.ASSOCIATE, at - timedelta(days=40), record_id="assoc"),
        "switch": make_event(
            resale, Op.SWITCH, at - timedelta(days=10), record_id="switch", from_association_type="1"
        ),
        "unbind": make_event(
            referral, Op.DISASSOCIATE, at, record_id="unbind", initiator=AssociationEvent.Initiator.CUSTOMER
        ),
        "platform": make_event(
            referral,
            Op.ASSOCIATE,
            at - timedelta(days=1),
            record_id="platform",
            initiator=AssociationEvent.Initiator.PLATFORM,
        ),
        "other": make_event(make_customer("rb"), Op.DISASSOCIATE, at, record_id="other-tenant"),
    }


def test_a_reseller_sees_every_event_of_its_own_customers_only(client_for, ra_admin, records):
    response = client_for(ra_admin).get(RECORDS)
    assert response.status_code == 200
    assert shown(response) == {"assoc", "switch", "unbind", "platform"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"operation": "ASSOCIATE"}, {"assoc", "platform"}),
        ({"operation": "DISASSOCIATE"}, {"unbind"}),
        ({"operation": "SWITCH"}, {"switch"}),
        ({"association_type": "1"}, {"unbind", "platform"}),
        ({"association_type": "2"}, {"assoc", "switch"}),
        ({"initiator": "CUSTOMER"}, {"unbind"}),
        ({"initiator": "PLATFORM"}, {"platform"}),
        ({"occurred_from": "2026-03-09"}, {"unbind", "platform"}),
        ({"occurred_to": "2026-02-28"}, {"assoc", "switch"}),
        ({"occurred_from": "2026-02-28", "occurred_to": "2026-03-09"}, {"switch", "platform"}),
        ({"customer": "cust-ref-1"}, {"unbind", "platform"}),
        ({"customer": "cust-res-1"}, {"assoc", "switch"}),
        ({"operation": "ASSOCIATE", "association_type": "1"}, {"platform"}),
        ({"operation": "DISASSOCIATE", "initiator": "CUSTOMER", "occurred_from": "2026-03-10"}, {"unbind"}),
        ({"operation": "SWITCH", "customer": "cust-ref-1"}, set()),
    ],
)
def test_each_filter_alone_and_combined(client_for, ra_admin, records, params, expected):
    assert shown(client_for(ra_admin).get(RECORDS, params)) == expected


def test_dates_are_days_in_the_users_time_zone(client_for, ra_admin, make_customer, make_event):
    # 2026-03-31 17:00 UTC is 2026-04-01 01:00 in Asia/Shanghai: April there, March in UTC.
    make_event(make_customer("ra"), at=datetime(2026, 3, 31, 17, 0, tzinfo=UTC), record_id="edge")
    client = client_for(ra_admin)
    assert shown(client.get(RECORDS, {"occurred_from": "2026-04-01"})) == {"edge"}
    ra_admin.time_zone = "UTC"
    ra_admin.save()
    assert shown(client.get(RECORDS, {"occurred_from": "2026-04-01"})) == set()
    assert shown(client.get(RECORDS, {"occurred_to": "2026-03-31"})) == {"edge"}


def test_a_customer_name_search_is_whole_value_masked_and_audited(client_for, ra_admin, records):
    from accounts.models import AuditEvent

    client = client_for(ra_admin)
    assert shown(client.get(RECORDS, {"customer": "李"})) == set()
    response = client.get(RECORDS, {"customer": "李雷"})
    assert shown(response) == {"assoc", "switch"}
    assert "李雷" not in response.content.decode().split('data-testid="association-count"')[1]
    assert AuditEvent.objects.filter(action="customer_search").exists()


def test_a_distributor_sees_all_and_narrows_to_one_reseller_or_all_resellers(
    client_for, dist_admin, partners, records, make_customer, make_event
):
    make_event(make_customer("dist"), record_id="own")
    client = client_for(dist_admin)
    assert shown(client.get(RECORDS)) == {"assoc", "switch", "unbind", "platform", "other-tenant", "own"}
    assert shown(client.get(RECORDS, {"partner": partners["rb"].pk})) == {"other-tenant"}
    assert shown(client.get(RECORDS, {"partner": partners["dist"].pk})) == {"own"}
    assert shown(client.get(RECORDS, {"partner": "resellers"})) == {
        "assoc",
        "switch",
        "unbind",
        "platform",
        "other-tenant",
    }


def test_a_reseller_cannot_name_another_partner(client_for, ra_admin, partners, records):
    response = client_for(ra_admin).get(RECORDS, {"partner": partners["rb"].pk})
    # No partner filter for a reseller: the parameter is ignored and its own rows stay its own.
    assert shown(response) == {"assoc", "switch", "unbind", "platform"}


def test_a_bad_filter_value_says_so_and_lists_everything(client_for, ra_admin, records):
    response = client_for(ra_admin).get(RECORDS, {"operation": "EXPLODE", "occurred_from": "yesterday"})
    assert response.status_code == 200
    assert shown(response) == {"assoc", "switch", "unbind", "platform"}
    assert "无法识别" in response.content.decode()  # "Some filters were not understood"


def test_the_filter_state_lives_in_the_url_and_htmx_gets_the_table(client_for, ra_admin, records):
    response = client_for(ra_admin).get(RECORDS, {"operation": "SWITCH"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'hx-push-url="true"' in body and 'value="SWITCH" selected' in body
    assert "Vary" in response and "HX-Request" in response["Vary"]
    assert f'{EXPORT}?operation=SWITCH"' in body


def test_anonymous_wrong_method_and_roles(client, client_for, ra_viewer, ra_sales):
    assert client.get(RECORDS)["Location"].startswith("/accounts/login/")
    assert client_for(ra_viewer).get(RECORDS).status_code == 200  # every role sees customers
    assert client_for(ra_viewer).get(EXPORT).status_code == 403  # but not every role exports
    assert client_for(ra_sales).post(RECORDS).status_code == 405


def test_pagination_is_bounded_and_keeps_the_filters(client_for, ra_admin, make_customer, make_event):
    customer = make_customer("ra")
    for _ in range(25):
        make_event(customer, Op.SWITCH)
    response = client_for(ra_admin).get(RECORDS, {"operation": "SWITCH"})
    assert len(shown(response)) == 20
    assert "operation=SWITCH&amp;page=2" in response.content.decode()
    assert len(shown(client_for(ra_admin).get(RECORDS, {"operation": "SWITCH", "page": 2}))) == 5


# The records page: the user (1); for a distributor its resellers, for the visible partners and the scope
# choices (1); the rows counted up to the cap (1) and the page of rows with their customer, partner and
# initiator (1).
RECORDS_QUERIES = {"dist-admin": 4, "ra-admin": 3}


def test_the_query_count_does_not_grow_with_the_rows(
    client_for, dist_admin, ra_admin, make_customer, make_event
):
    client = client_for(dist_admin)

    def count(params):
        client.get(RECORDS, params)  # warm the per-user caches
        with CaptureQueriesContext(connection) as queries:
            assert client.get(RECORDS, params).status_code == 200
        return len(queries)

    make_event(make_customer("ra"))
    few = count({}), count({"partner": "resellers", "operation": "ASSOCIATE"})
    for key in ("ra", "rb", "dist", "ra", "rb") * 4:
        make_event(make_customer(key), initiated_by=dist_admin)
    assert (count({}), count({"partner": "resellers", "operation": "ASSOCIATE"})) == few
    assert few == (RECORDS_QUERIES["dist-admin"],) * 2
    client.logout()
    client = client_for(ra_admin)
    assert count({}) == RECORDS_QUERIES["ra-admin"]


def test_the_export_is_masked_filtered_audited_and_in_the_users_time(client_for, ra_admin, records):
    from accounts.models import AuditEvent

    response = client_for(ra_admin).get(EXPORT, {"operation": "ASSOCIATE", "association_type": "2"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    rows = list(csv.reader(io.StringIO(response.content.decode().lstrip("\ufeff"))))
    assert len(rows) == 2  # the header and the one matching event
    body = response.content.decode()
    assert "李雷" not in body and "lilei-acct" not in body and "李*" in body
    assert rows[1][0].startswith("2026-01-29 20:00:00+08:00")  # 12:00 UTC in Asia/Shanghai
    assert AuditEvent.objects.filter(action="association_export", data__rows=1).exists()


def test_the_export_never_gives_another_tenants_rows(client_for, rb_admin, records):
    body = client_for(rb_admin).get(EXPORT).content.decode()
    assert "cust-res-1" not in body and "cust-ref-1" not in body


# --- the rollup ---------------------------------------------------------------------------------------------


def rollup(partner_ids) -> dict:
    return {
        (r.partner_id, r.day): (r.associated, r.disassociated, r.switched)
        for r in AssociationDay.objects.filter(partner_id__in=partner_ids)
        if (r.associated, r.disassociated, r.switched) != (0, 0, 0)
    }


def test_the_rollup_counts_inserts_changes_and_deletes_by_shanghai_day(partners, make_customer, make_event):
    customer = make_customer("ra")
    ra = partners["ra"].pk
    late = make_event(customer, Op.ASSOCIATE, datetime(2026, 3, 31, 16, 30, tzinfo=UTC))  # 04-01 00:30 +08
    early = make_event(customer, Op.SWITCH, datetime(2026, 3, 31, 15, 59, tzinfo=UTC))  # 03-31 23:59 +08
    from datetime import date

    assert rollup([ra]) == {(ra, date(2026, 4, 1)): (1, 0, 0), (ra, date(2026, 3, 31)): (0, 0, 1)}
    early.operation = Op.DISASSOCIATE
    early.save()
    late.partner = partners["rb"]
    late.save()
    assert rollup([ra, partners["rb"].pk]) == {
        (ra, date(2026, 3, 31)): (0, 1, 0),
        (partners["rb"].pk, date(2026, 4, 1)): (1, 0, 0),
    }
    AssociationEvent.objects.all().delete()
    assert rollup([ra, partners["rb"].pk]) == {}


def tally(partner_ids) -> dict:
    return {
        (t.partner_id, t.association_type, t.customer_level, t.label): t.customers
        for t in CustomerTally.objects.filter(partner_id__in=partner_ids)
        if t.customers
    }


def warning_tally(partner_ids) -> dict:
    return {
        (t.partner_id, t.category): t.pending
        for t in WarningTally.objects.filter(partner_id__in=partner_ids)
        if t.pending
    }


def test_the_customer_tally_follows_creates_changes_disassociations_and_deletes(partners, make_customer):
    ids = [partners["ra"].pk, partners["rb"].pk]
    a = make_customer("ra", customer_level="V1", label="vip")
    b = make_customer("ra", customer_level="V1", label="vip")
    assert tally(ids) == {(partners["ra"].pk, "2", "V1", "vip"): 2}
    Customer.objects.filter(pk=a.pk).update(association_type="1", label="new")
    Customer.objects.filter(pk=b.pk).update(partner=partners["rb"])
    assert (
        tally(ids)
        == CustomerTally.recount(ids)
        == {
            (partners["ra"].pk, "1", "V1", "new"): 1,
            (partners["rb"].pk, "2", "V1", "vip"): 1,
        }
    )
    Customer.objects.filter(pk=a.pk).update(disassociated_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert tally(ids) == {(partners["rb"].pk, "2", "V1", "vip"): 1}
    Customer.objects.filter(pk=a.pk).update(disassociated_at=None)
    Customer.objects.filter(pk=b.pk).delete()
    assert tally(ids) == {(partners["ra"].pk, "1", "V1", "new"): 1}


def test_the_rollup_equals_a_recount_after_a_real_sync(upstream_settings, partners):
    """The association-records dataset run against the simulator, full and then incremental."""
    from upstream.sync import run_dataset

    run_dataset("indirect_partners", mode="full")
    run_dataset("customers", mode="full")
    run_dataset("association_records", mode="full")
    ids = list(partners["dist"].visible_partner_ids())
    assert AssociationEvent.objects.count() > 0
    assert rollup(ids) == AssociationDay.recount(ids)
    assert tally(ids) == CustomerTally.recount(ids) and sum(tally(ids).values()) > 0
    run_dataset("warnings", mode="full")
    assert warning_tally(ids) == WarningTally.recount(ids) and sum(warning_tally(ids).values()) > 0
    # Handled in the portal (pending → sending), refused (sending → pending), handled and confirmed.
    first, second = CustomerWarning.objects.filter(status="PENDING").order_by("pk")[:2]
    first.mark_handled(None, first.results()[0][0])
    second.mark_handled(None, second.results()[0][0])
    second.mark_push_failed("refused")
    assert warning_tally(ids) == WarningTally.recount(ids)
    run_dataset("association_records", mode="incremental")
    run_dataset("association_records", mode="full")
    run_dataset("customers", mode="full")
    run_dataset("warnings", mode="full")
    assert rollup(ids) == AssociationDay.recount(ids)
    assert tally(ids) == CustomerTally.recount(ids)
    assert warning_tally(ids) == WarningTally.recount(ids)


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_of_one_day_lose_no_count(partners):
    """Two transactions adding events of the same day at the same time: both counted."""
    at = datetime(2026, 5, 1, 4, 0, tzinfo=UTC)
    ra = partners["ra"]
    barrier = threading.Barrier(2)

    def write(n: int):
        try:
            barrier.wait(timeout=10)  # both start together; the second waits on the day's row lock
            with transaction.atomic():
                for i in range(20):
                    AssociationEvent.objects.create(
                        partner=ra,
                        customer_upstream_id=f"c-{n}-{i}",
                        record_id=f"r-{n}-{i}",
                        operation=Op.ASSOCIATE,
                        occurred_at=at + timedelta(seconds=i),
                    )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rollup([ra.pk]) == AssociationDay.recount([ra.pk])
    assert sum(v[0] for v in rollup([ra.pk]).values()) == 40
