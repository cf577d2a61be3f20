"""The adjustment records page (调账记录): the portal's ledger and the upstream's own records in one list,
each filter alone and combined, totals of the filtered set, masked CSV, tenancy, roles and query counts."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import Adjustment, AdjustRecord
from customers.models import AssociationType, Customer

pytestmark = pytest.mark.django_db

URL = reverse("billing:adjustments")
EXPORT = reverse("billing:adjustment-export")
# The page of a reseller's user, its table from the fragment cache: the user (1), each side counted up to the
# cap (2), the page of the merged sides, customers, resellers and requesters joined in (1), the totals: the
# portal's side (1), the upstream side from the daily sums (1) less the records the portal made (1).
RECORDS_PAGE_QUERIES = 7


@pytest.fixture
def book(partners, ra_finance, dist_admin):
    """Reseller A's ledger: two portal adjustments, the upstream record of one of them, and two moves made
    outside the portal (an allocation in the console, a reclaim on disassociation); one row of Reseller B."""
    ra, rb = partners["ra"], partners["rb"]
    now = timezone.now()
    alice = Customer.objects.create(
        partner=ra, customer_id="ra-c1", name="王小明", account_name="wxm-acct", association_type="2"
    )
    bob = Customer.objects.create(partner=ra, customer_id="ra-c2", name="李雷", association_type="2")
    carol = Customer.objects.create(
        partner=rb, customer_id="rb-c1", name="韩梅梅", association_type=AssociationType.RESALE
    )
    done = Adjustment.objects.create(
        partner=ra,
        customer=alice,
        kind="allocate",
        amount=Decimal("100.00"),
        memo="May top-up",
        requested_by=ra_finance,
        status="succeeded",
        upstream_transaction_id="T-1",
        created_at=now - timedelta(days=2),
    )
    failed = Adjustment.objects.create(
        partner=ra,
        customer=bob,
        kind="reclaim",
        amount=Decimal("40.00"),
        requested_by=ra_finance,
        status="failed",
        error_message="CBC.5003",
        created_at=now - timedelta(days=1),
    )
    record = dict(partner=ra, currency="CNY")
    # The portal's own allocation as the upstream recorded it: shown once, as the portal's row.
    AdjustRecord.objects.create(
        **record,
        customer=alice,
        customer_upstream_id="ra-c1",
        trans_id="T-1",
        operation_type=AdjustRecord.OperationType.ALLOCATE,
        amount=Decimal("100.00"),
        operation_time=now - timedelta(days=2),
    )
    console = AdjustRecord.objects.create(
        **record,
        customer=bob,
        customer_upstream_id="ra-c2",
        customer_name="李雷",
        trans_id="T-2",
        operation_type=AdjustRecord.OperationType.ALLOCATE,
        amount=Decimal("25.50"),
        operation_time=now - timedelta(days=10),
    )
    unbind = AdjustRecord.objects.create(
        **record,
        customer_upstream_id="ra-gone",
        customer_name="=HYPERLINK(1)",
        trans_id="T-3",
        operation_type=AdjustRecord.OperationType.UNBIND,
        amount=Decimal("7.25"),
        operation_time=now - timedelta(hours=3),
        memo="unbind",
    )
    AdjustRecord.objects.create(
        partner=rb,
        customer=carol,
        customer_upstream_id="rb-c1",
        trans_id="T-9",
        operation_type=AdjustRecord.OperationType.ALLOCATE,
        amount=Decimal("999.00"),
        operation_time=now,
    )
    return {"done": done, "failed": failed, "console": console, "unbind": unbind}


def _rows(response) -> list[tuple[str, int]]:
    return [(row.origin, row.row_pk) for row in response.context["page"].object_list]


def test_the_list_joins_the_ledger_and_the_moves_made_outside_the_portal(client_for, ra_finance, book):
    response = client_for(ra_finance).get(URL)
    assert response.status_code == 200
    # Newest first; the upstream record of the portal's own allocation is not shown twice.
    assert _rows(response) == [
        ("outside", book["unbind"].pk),
        ("portal", book["failed"].pk),
        ("portal", book["done"].pk),
        ("outside", book["console"].pk),
    ]
    body = response.content.decode()
    assert "Outside the portal" in body or "门户外" in body
    assert "李雷" not in body and "王小明" not in body  # names masked
    assert "999" not in body  # Reseller B's record
    # Succeeded only: 100.00 (portal) + 25.50 (console) allocated; 7.25 reclaimed on disassociation.
    assert response.context["totals"] == {"allocated": Decimal("125.50"), "reclaimed": Decimal("7.25")}


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"kind": "allocate"}, ["done", "console"]),
        ({"kind": "reclaim"}, ["failed"]),
        ({"kind": "unbind"}, ["unbind"]),
        ({"status": "failed"}, ["failed"]),
        ({"status": "succeeded"}, ["unbind", "done", "console"]),
        ({"origin": "outside"}, ["unbind", "console"]),
        ({"origin": "portal"}, ["failed", "done"]),
        ({"customer": "ra-c2"}, ["failed", "console"]),
        ({"customer": " ra-c1 "}, ["done"]),
        ({"kind": "allocate", "origin": "outside"}, ["console"]),
        ({"customer": "ra-c2", "status": "succeeded"}, ["console"]),
    ],
)
def test_each_filter_alone_and_combined(client_for, ra_finance, book, query, expected):
    response = client_for(ra_finance).get(URL, query)
    assert [pk for _origin, pk in _rows(response)] == [book[name].pk for name in expected]


def test_the_time_range_is_in_the_users_days_and_requested_by_keeps_portal_rows(
    client_for, ra_finance, ra_admin, book
):
    client = client_for(ra_finance)
    today = timezone.localdate()
    response = client.get(URL, {"date_from": (today - timedelta(days=3)).isoformat()})
    assert {pk for _o, pk in _rows(response)} == {book[n].pk for n in ("unbind", "failed", "done")}
    response = client.get(URL, {"date_to": (today - timedelta(days=5)).isoformat()})
    assert [pk for _o, pk in _rows(response)] == [book["console"].pk]
    response = client.get(URL, {"requested_by": ra_finance.pk})
    assert [pk for _o, pk in _rows(response)] == [book["failed"].pk, book["done"].pk]
    response = client.get(URL, {"requested_by": ra_admin.pk})
    assert _rows(response) == []


def test_a_filter_that_makes_no_sense_shows_everything_with_a_message(client_for, ra_finance, book):
    today = timezone.localdate()
    response = client_for(ra_finance).get(
        URL, {"date_from": today.isoformat(), "date_to": (today - timedelta(days=1)).isoformat()}
    )
    assert response.status_code == 200
    assert len(_rows(response)) == 4
    assert [str(m) for m in response.context["messages"]]
    response = client_for(ra_finance).get(URL, {"kind": "gift", "page": "x"})
    assert response.status_code == 200 and len(_rows(response)) == 4


def test_the_distributor_sees_its_resellers_rows_and_can_narrow_to_one(
    client_for, dist_admin, partners, book
):
    client = client_for(dist_admin)
    assert len(_rows(client.get(URL))) == 5
    only_b = client.get(URL, {"reseller": partners["rb"].pk})
    assert [origin for origin, _pk in _rows(only_b)] == ["outside"]


def test_the_csv_holds_the_filtered_rows_masked_and_formula_safe(client_for, ra_finance, book):
    response = client_for(ra_finance).get(EXPORT, {"origin": "outside"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 3  # the header and the two moves made outside the portal
    text = response.content.decode("utf-8-sig")
    assert "李雷" not in text and "=HYPERLINK" not in text
    assert "7.25" in text and "25.50" in text and "T-3" in text


def test_roles_tenancy_and_methods(client, client_for, ra_sales, rb_admin, ra_finance, book):
    assert client.get(URL).status_code == 302
    assert client_for(ra_sales).get(URL).status_code == 403
    assert client_for(ra_sales).get(EXPORT).status_code == 403
    assert client_for(ra_finance).post(URL).status_code == 405
    outsider = client_for(rb_admin).get(URL)
    assert outsider.status_code == 200 and [o for o, _ in _rows(outsider)] == ["outside"]


def test_htmx_gets_the_table_alone(client_for, ra_finance, book):
    response = client_for(ra_finance).get(URL, {"kind": "allocate"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="adjustment-list"' in body and "<html" not in body


def test_the_query_count_does_not_grow_with_the_rows(client_for, ra_finance, partners, book):
    client = client_for(ra_finance)

    def count() -> int:
        client.get(URL)  # sets the CSRF cookie, part of the fragment cache's key
        client.get(URL)  # the table rendered for that key
        with CaptureQueriesContext(connection) as captured:
            assert client.get(URL).status_code == 200
        return len(captured)

    few = count()
    now = timezone.now()
    for i in range(15):
        customer = Customer.objects.create(
            partner=partners["ra"], customer_id=f"more-{i}", name=f"客户{i}", association_type="2"
        )
        Adjustment.objects.create(
            partner=partners["ra"], customer=customer, kind="allocate", amount=Decimal("1.00"), created_at=now
        )
        AdjustRecord.objects.create(
            partner=partners["ra"],
            customer=customer,
            customer_upstream_id=customer.customer_id,
            trans_id=f"X-{i}",
            operation_type=AdjustRecord.OperationType.RECLAIM,
            amount=Decimal("1.00"),
            operation_time=now,
        )
    many = count()
    assert (few, many) == (RECORDS_PAGE_QUERIES, RECORDS_PAGE_QUERIES)


def test_every_page_of_the_union_is_reachable_and_the_last_is_read_backwards(
    client_for, ra_finance, partners, book
):
    now = timezone.now()
    for i in range(21):  # 25 rows in all: pages of 10, 10 and 5
        AdjustRecord.objects.create(
            partner=partners["ra"],
            customer_upstream_id=f"old-{i}",
            trans_id=f"OLD-{i}",
            operation_type=AdjustRecord.OperationType.ALLOCATE,
            amount=Decimal("2.00"),
            operation_time=now - timedelta(days=30, minutes=i),
        )
    client = client_for(ra_finance)
    pages = [_rows(client.get(URL, {"page": n, "per_page": 10})) for n in (1, 2, 3)]
    seen = [row for page in pages for row in page]
    assert [len(page) for page in pages] == [10, 10, 5]
    assert len(set(seen)) == 25
    assert client.get(URL, {"per_page": 10}).context["page"].paginator.count == 25
    # The last page, read from the end of the same order: the same rows as page 3.
    assert _rows(client.get(URL, {"page": "last", "per_page": 10})) == pages[2]


def _interleaved(partners, count: int) -> None:
    """`count` portal adjustments and `count` upstream records of Reseller A, their times interleaved."""
    ra = partners["ra"]
    now = timezone.now()
    customer = Customer.objects.create(partner=ra, customer_id="page-c", name="翻页", association_type="2")
    for i in range(count):
        Adjustment.objects.create(
            partner=ra,
            customer=customer,
            kind="allocate",
            amount=Decimal(i + 1),
            created_at=now - timedelta(minutes=3 * i),
        )
        AdjustRecord.objects.create(
            partner=ra,
            customer=customer,
            customer_upstream_id="page-c",
            trans_id=f"P-{i}",
            operation_type=AdjustRecord.OperationType.RECLAIM,
            amount=Decimal(i + 1),
            operation_time=now - timedelta(minutes=3 * i + 1 + i % 2),
        )


def test_every_page_of_the_merged_sides_is_the_full_order_cut_there(client_for, ra_finance, partners):
    """Each side is cut at the page's end before the merge, and a page in the back half is read from the
    end: every page, the last included, is the slice of the whole list in time order."""
    from billing.filters import Ledger

    _interleaved(partners, 23)
    client = client_for(ra_finance)
    whole = [(r["origin"], r["row_pk"]) for r in Ledger(ra_finance, {}).rows]
    assert len(whole) == 46

    def keys(page) -> list:
        body = client.get(URL, {"per_page": 10, "page": page}).content.decode()
        return re.findall(r'data-row="(portal|outside)-(\d+)"', body)

    seen = []
    for page in range(1, 6):
        seen += [(origin, int(pk)) for origin, pk in keys(page)]
    assert seen == whole
    assert [(o, int(pk)) for o, pk in keys("last")] == whole[40:]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
@pytest.mark.parametrize(
    "query",
    [
        {},
        {"kind": "allocate"},
        {"kind": "reclaim"},
        {"date_from": "today"},
        {"reseller": "ra"},
        {"customer": "ra-c1"},
    ],
)
def test_the_totals_from_the_daily_sums_equal_summing_the_rows(partners, dist_admin, book, zone, query):
    """The upstream side's totals come from FundsDay where the filters allow (less the records the portal
    made, counted on its side): they equal summing the listed rows, whatever the filters and zone."""
    from django.utils import timezone as tz

    from billing.filters import Ledger

    _interleaved(partners, 5)
    data = dict(query)
    if data.get("reseller"):
        data["reseller"] = partners["ra"]
    with tz.override(zone):
        if data.get("date_from"):
            data["date_from"] = tz.localdate() - timedelta(days=3)
        ledger = Ledger(dist_admin, data)
        expected = {"allocated": Decimal(0), "reclaimed": Decimal(0)}
        for row in ledger.rows:
            if row["row_status"] == "succeeded":
                expected["allocated" if row["row_kind"] == "allocate" else "reclaimed"] += row["row_amount"]
        assert ledger.totals() == expected


@pytest.mark.django_db(transaction=True)
def test_the_count_and_totals_are_cached_only_while_nothing_is_committed(client_for, ra_finance, book):
    from portal.lib.unchanged import database_stamp

    client = client_for(ra_finance)
    # A commit anywhere in the cluster between the two requests is a miss: tried until there was none.
    for _attempt in range(50):
        stamp = database_stamp()
        client.get(URL)
        with CaptureQueriesContext(connection) as hit:
            response = client.get(URL)
        if database_stamp() == stamp:
            break
    assert response.context["totals"] == {"allocated": Decimal("125.50"), "reclaimed": Decimal("7.25")}
    assert response.context["page"].paginator.count == 4
    # The stamp is read for the count and for the totals, and neither is run.
    sql = [q["sql"] for q in hit]
    assert sum("pg_current_snapshot" in q for q in sql) == 2, sql
    assert not [q for q in sql if "COUNT(" in q or "SUM(" in q], sql

    AdjustRecord.objects.create(
        partner=book["console"].partner,
        customer_upstream_id="ra-c2",
        trans_id="T-4",
        operation_type=AdjustRecord.OperationType.ALLOCATE,
        amount=Decimal("0.50"),
        operation_time=timezone.now(),
        currency="CNY",
    )
    response = client.get(URL)
    assert response.context["totals"] == {"allocated": Decimal("126.00"), "reclaimed": Decimal("7.25")}
    assert response.context["page"].paginator.count == 5
    assert "126.00" in response.content.decode()
