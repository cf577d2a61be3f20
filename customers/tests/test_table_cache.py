"""The fragment cache (portal/lib/fragments.py): a list's table is served from the cache only while nothing it
shows has changed; any change to a row, to an object joined to it, to the user or to the language shows at
once, and one user never gets another's table."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.lib import fragments

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-hans"}


def _table(client, headers=EN, **params) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(LIST, params, headers={**headers, "HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode(), len(captured)


def test_the_same_table_is_served_from_the_cache_with_fewer_queries(client_for, ra_admin, make_customer):
    make_customer("ra", label="first-label")
    client = client_for(ra_admin)
    first, rendered = _table(client)
    again, cached = _table(client)
    assert again == first and "first-label" in again
    assert cached < rendered


def test_a_changed_row_shows_on_the_next_request(client_for, ra_admin, make_customer):
    customer = make_customer("ra", label="old-label")
    client = client_for(ra_admin)
    assert "old-label" in _table(client)[0]
    customer.label = "new-label"
    customer.save()
    page = _table(client)[0]
    assert "new-label" in page and "old-label" not in page


def test_a_change_to_a_joined_row_shows_on_the_next_request(client_for, ra_admin, ra_sales, make_customer):
    make_customer("ra", account_manager=ra_sales)
    client = client_for(ra_admin)
    assert ra_sales.username in _table(client)[0]
    ra_sales.username = "renamed-sales"
    ra_sales.save()
    assert "renamed-sales" in _table(client)[0]


def test_each_user_gets_their_own_table(client, ra_admin, ra_finance, make_customer):
    make_customer("ra")
    client.force_login(ra_admin, backend="accounts.backends.PortalBackend")
    as_admin = _table(client)[0]
    client.force_login(ra_finance, backend="accounts.backends.PortalBackend")
    as_finance = _table(client)[0]
    assert "#assign" in as_admin and "#assign" not in as_finance  # only admins assign account managers


def test_the_language_is_part_of_the_key(client_for, ra_admin, make_customer):
    make_customer("ra")
    client = client_for(ra_admin)
    assert "Customer name" in _table(client, EN)[0]
    client.cookies["django_language"] = "zh-hans"
    chinese = _table(client, ZH)[0]
    assert "客户名称" in chinese and "Customer name" not in chinese


def test_fingerprints_cover_rows_and_refuse_what_they_do_not_know(make_customer):
    customer = make_customer("ra", label="a")
    before = fragments.fingerprint({"rows": [customer], "total": Decimal("1.00")})
    customer.label = "b"
    assert fragments.fingerprint({"rows": [customer], "total": Decimal("1.00")}) != before
    with pytest.raises(TypeError, match="Cannot fingerprint"):
        fragments.fingerprint({"unknown": object()})


def test_derived_values_are_keyed_by_their_inputs_and_built_only_when_read():
    from dataclasses import dataclass

    @dataclass
    class Count:
        n: int

    built = []

    def double(count):
        built.append(count.n)
        return {"twice": count.n * 2}

    first = fragments.fingerprint({"chart": fragments.Derived(double, Count(1))})
    assert first == fragments.fingerprint({"chart": fragments.Derived(double, Count(1))})
    assert first != fragments.fingerprint({"chart": fragments.Derived(double, Count(2))})
    assert first != fragments.fingerprint({"chart": fragments.Derived(lambda c: c, Count(1))})
    assert built == []  # keying builds nothing
    chart = fragments.Derived(double, Count(3))
    assert (chart()["twice"], chart()["twice"], built) == (6, 6, [3])  # built once, when read


def test_the_dashboards_body_is_cached_and_never_stale(client_for, ra_admin, make_warning, monkeypatch):
    renders = []
    render = fragments.render_to_string
    monkeypatch.setattr(
        fragments, "render_to_string", lambda name, *a, **k: renders.append(name) or render(name, *a, **k)
    )
    client = client_for(ra_admin)
    url = reverse("portal:dashboard")

    def churn() -> str:
        body = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        return re.search(r'data-testid="warnings-CHURN">[^<]*<strong>(\d+)</strong>', body).group(1)

    assert churn() == churn() == "0"
    make_warning()
    assert churn() == "1"
    # Rendered for the first request and again for the new count; the second came from the cache (a poll
    # straddling a minute boundary renders once more: the body shows the minute).
    assert renders.count("portal/dashboard.html#body") in (2, 3)


def test_with_the_setting_at_0_nothing_is_cached(client_for, ra_admin, make_customer, settings):
    settings.FRAGMENT_CACHE_SECONDS = 0
    make_customer("ra")
    client = client_for(ra_admin)
    _table(client)
    assert _table(client)[1] == _table(client)[1]
    from django.core.cache import cache

    client_keys = cache._cache.get_client().scan_iter(match=cache.make_key("fragment:*"))
    assert list(client_keys) == []


def test_the_customer_page_is_cached_the_same_way(client_for, ra_admin, make_customer, make_warning):
    customer = make_customer("ra", label="before")
    client = client_for(ra_admin)
    url = reverse("customers:detail", args=[customer.pk])
    assert "before" in client.get(url, headers=EN).content.decode()
    make_warning(customer, title="a new warning")
    customer.label = "after"
    customer.save()
    page = client.get(url, headers=EN).content.decode()
    assert "after" in page and "before" not in page
    assert "a new warning" in page  # and the warning that arrived meanwhile


def test_a_value_the_fingerprint_does_not_know_is_logged_and_the_page_still_renders(
    rf, ra_admin, caplog, settings
):
    from accounts.backends import PortalBackend

    request = rf.get("/anything/")
    request.user = PortalBackend().get_user(ra_admin.pk)
    with caplog.at_level("ERROR", logger="portal.lib.fragments"):
        html = fragments.render_cached(request, "includes/messages.html", {"messages": [], "odd": object()})
    assert "rendered without the cache" in caplog.text
    assert isinstance(html, str)


def test_each_request_s_filterset_has_its_own_filters(ra_admin, rb_admin):
    """lists.FilterSet copies the declared filters shallowly: nothing a request sets may reach another."""
    from customers.filters import CustomerFilter
    from customers.models import Customer

    mine = CustomerFilter(None, queryset=Customer.objects.none(), user=ra_admin)
    theirs = CustomerFilter(None, queryset=Customer.objects.none(), user=rb_admin)
    assert mine.filters["account_manager"] is not theirs.filters["account_manager"]
    assert str(mine.filters["account_manager"].queryset.query) != str(
        theirs.filters["account_manager"].queryset.query
    )
    assert mine.filters["name"].filter.f.parent is mine  # a method filter runs on its own filterset
    assert theirs.filters["name"].filter.f.parent is theirs
    assert getattr(CustomerFilter.base_filters["name"], "parent", None) is None  # the declared ones untouched


def test_two_users_of_the_same_role_and_partner_get_their_own_header_and_table(
    client, make_staff, make_customer
):
    # request.user is a lazy object: the key must digest the user it stands for, not the wrapper (whose own
    # fields are all private, so every user once had the same fingerprint).
    make_customer("ra")
    pages = {}
    for name in ("ra-sales-one", "ra-sales-two"):
        user = make_staff("ra", "sales", username=name)
        client.force_login(user, backend="accounts.backends.PortalBackend")
        pages[name] = client.get(LIST, headers=EN).content.decode()
    assert "<summary>ra-sales-one</summary>" in pages["ra-sales-one"]
    assert "<summary>ra-sales-two</summary>" in pages["ra-sales-two"]
    assert "<summary>ra-sales-one</summary>" not in pages["ra-sales-two"]


def test_a_lazy_user_is_fingerprinted_as_the_user_it_stands_for(ra_admin, ra_finance):
    from django.utils.functional import SimpleLazyObject

    lazy = SimpleLazyObject(lambda: ra_admin)
    assert fragments.fingerprint(lazy) == fragments.fingerprint(ra_admin)
    assert fragments.fingerprint(lazy) != fragments.fingerprint(SimpleLazyObject(lambda: ra_finance))


def test_the_signed_in_user_through_every_middleware_can_be_keyed(
    client_for, ra_admin, make_customer, caplog
):
    # django_otp's middleware hangs a partial (is_verified) on the user: it is no data of the user's, and a
    # key that could not be made would render every table and header anew (logged).
    make_customer("ra")
    client = client_for(ra_admin)
    with caplog.at_level("ERROR", logger="portal.lib.fragments"):
        client.get(LIST, headers=EN)
        client.get(reverse("portal:dashboard"), headers=EN)
    assert not [r for r in caplog.records if r.name == "portal.lib.fragments"]


def test_the_audit_log_table_is_cached_and_shows_a_new_event_at_once(client_for, ra_admin):
    from accounts import audit

    client = client_for(ra_admin)
    url = reverse("accounts:audit")

    def table():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, headers={**EN, "HX-Request": "true"})
        assert response.status_code == 200
        return response.content.decode(), len(captured)

    audit.record("customer_export", actor=ra_admin, summary="first export")
    first, rendered = table()
    again, cached = table()
    assert again == first and "first export" in again and cached < rendered
    audit.record("customer_export", actor=ra_admin, summary="second export")
    assert "second export" in table()[0]
