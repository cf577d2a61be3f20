"""Long lists count at most COUNT_CAP rows, and every page stays reachable (issue 13, point 3).

Counting 100,000 customers on every request was a good part of the list's time: the paginator counts over a
LIMITed subquery, says "more than N" past the cap, and still offers Previous, Next and the last page (which
alone counts exactly). Here the cap is lowered to 5 so that a dozen rows cross it.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.lib import lists

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
CUSTOMER_LIST_QUERIES = 4  # the list's baseline (test_customer_list.py): a capped page costs no query more
EN = {"Accept-Language": "en"}


@pytest.fixture
def thirteen(make_customer, monkeypatch):
    monkeypatch.setattr(lists.BoundedPaginator, "cap", 5)
    # Newest first: cust 0 is on top of page 1.
    return [make_customer("ra", account_name=f"bounded-{i:02d}") for i in range(13)]


def get(client, **params):
    # The visit's caches (session, access) warm, as after any first page; this list's table is not cached yet.
    client.get(reverse("customers:warning-count"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, {"per_page": 10, **params}, headers=EN)
    assert response.status_code == 200
    return response.content.decode(), queries


def test_past_the_cap_the_list_says_more_than_and_counts_no_further(client_for, ra_admin, thirteen):
    page, queries = get(client_for(ra_admin))
    assert "More than 5 customers" in page and "13 customers" not in page
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "LIMIT 6" in counts[0]  # a bounded count, not a count of every row
    assert "Page 1" in page and "Page 1 of" not in page
    assert "page=2" in page and "page=last" in page  # Next, and the last page
    assert len(queries) == CUSTOMER_LIST_QUERIES


def test_next_reaches_past_the_cap_and_stops_at_the_end(client_for, ra_admin, thirteen):
    client = client_for(ra_admin)
    second, _queries = get(client, page=2)
    assert "Page 2" in second and "page=1" in second  # Previous
    assert "page=3" not in second  # nothing after the 13th row
    assert thirteen[0].account_name not in second


def test_the_last_page_counts_exactly(client_for, ra_admin, thirteen):
    page, queries = get(client_for(ra_admin), page="last")
    assert "Page 2 of 2" in page and "13 customers" in page
    assert len(queries) == CUSTOMER_LIST_QUERIES  # the exact count replaces the bounded one


def test_under_the_cap_the_list_is_counted_and_totalled_as_before(client_for, ra_admin, make_customer):
    for i in range(12):
        make_customer("ra", account_name=f"small-{i:02d}")
    page, _queries = get(client_for(ra_admin))
    assert "12 customers" in page and "Page 1 of 2" in page and "page=last" not in page


def test_a_page_in_the_back_half_is_read_backwards_in_the_same_order(client_for, ra_admin, make_customer):
    from customers.models import Customer

    for i in range(13):
        make_customer("ra", account_name=f"tail-{i:02d}")
    forward = list(Customer.objects.order_by("-associated_on", "id").values_list("pk", flat=True))
    page, queries = get(client_for(ra_admin), page=2)
    shown = [int(pk) for pk in re.findall(r'href="/customers/(\d+)/"', page)]
    assert list(dict.fromkeys(shown)) == forward[10:]
    # Read from the end (no OFFSET walking the first 10 rows): the rows' query runs in the reverse order.
    (select,) = [
        q["sql"] for q in queries if '"customers_customer"."associated_on" ASC NULLS FIRST' in q["sql"]
    ]
    assert select.endswith("LIMIT 3") and "OFFSET" not in select


def test_a_deep_page_finds_its_keys_first_in_the_same_query(client_for, ra_admin, make_customer, monkeypatch):
    from customers.models import Customer

    monkeypatch.setattr(lists, "DEFERRED_JOIN_OFFSET", 5)
    for i in range(25):
        make_customer("ra", account_name=f"deep-{i:02d}")
    forward = list(Customer.objects.order_by("-associated_on", "id").values_list("pk", flat=True))
    page, queries = get(client_for(ra_admin), page=2)
    shown = [int(pk) for pk in re.findall(r'href="/customers/(\d+)/"', page)]
    assert list(dict.fromkeys(shown)) == forward[10:20]
    (select,) = [q["sql"] for q in queries if "OFFSET 10" in q["sql"]]
    assert '"customers_customer"."id" IN (SELECT' in select  # the OFFSET walks keys, not joined rows
    assert len(queries) == CUSTOMER_LIST_QUERIES
