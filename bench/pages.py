"""The pages `make bench` measures, and the facts of the data their URLs need.

To measure a new page, add one line to PAGES: a name (the row of the table and the key in results.json) and
a path. `{fact}` fields in the path are filled from FACTS below, which `manage.py bench_pages` computes from
the running data as the signed-in user sees it (never hard-coded ids). A page whose facts are missing from the
data (an empty database, say) is skipped with a note instead of measuring a 404.

This module is imported by the driver, which does not set Django up: the fact functions import models inside.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

# How deep "a deep page" goes: the page 500, or the middle of a shorter list.
DEEP_PAGE = 500


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    # False for the trivial ceiling only: without the session cookie no middleware loads the user.
    signed_in: bool = True

    @property
    def facts(self) -> list[str]:
        return [field for _, field, _, _ in string.Formatter().parse(self.path) if field]

    def url(self, facts: dict) -> str | None:
        """The path with its facts filled in, or None when the data lacks one of them."""
        if any(facts.get(name) in (None, "") for name in self.facts):
            return None
        return self.path.format(**{name: _quote(facts[name]) for name in self.facts})


def _quote(value) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


TRIVIAL = "trivial"

PAGES: list[Page] = [
    Page(TRIVIAL, "/_bench/trivial/", signed_in=False),
    # The least a signed-in page costs: the session and the user read, nothing else (a second ceiling).
    Page("signed_in", "/_bench/signed-in/"),
    Page("customers", "/customers/"),
    Page("customers_filtered", "/customers/?association_type={customer_association_type}"),
    Page("customers_search", "/customers/?name={customer_name}"),
    Page("customers_deep", "/customers/?page={customer_deep_page}"),
    Page("customers_last", "/customers/?page={customer_last_page}"),
    Page("customers_by_balance", "/customers/?sort=-balance"),
    Page("customer_detail", "/customers/{customer_pk}/"),
    Page("warnings_handle", "/customers/warnings/"),
    Page("warnings_all", "/customers/warnings/?tab=all"),
    Page("warnings_filtered", "/customers/warnings/?tab=all&category={warning_category}"),
    Page("warnings_deep", "/customers/warnings/?tab=all&page={warning_deep_page}"),
    Page("warning_count", "/customers/warnings/count/"),
    Page("associations", "/customers/associations/"),
    Page("associations_filtered", "/customers/associations/?operation=DISASSOCIATE&occurred_from={month}"),
    Page("associations_deep", "/customers/associations/?page={association_deep_page}"),
    Page("association_requests", "/customers/requests/"),
    Page("orders", "/customers/orders/"),
    Page("orders_awaiting_payment", "/customers/orders/?status=partner"),
    Page("orders_filtered", "/customers/orders/?type=renew&created_from={order_month}"),
    Page("orders_deep", "/customers/orders/?page={order_deep_page}"),
    Page("resources_expiring", "/customers/resources/"),
    Page("adjustments", "/billing/adjustments/"),
    Page("discounts_partner", "/billing/discounts/"),
    Page("discounts_commercial", "/billing/discounts/commercial/"),
    Page("discounts_offers", "/billing/discounts/offers/"),
    Page("invitations", "/customers/invitations/"),
    Page("resellers", "/billing/resellers/"),
    Page("reconciliation", "/billing/reconciliation/"),
    Page("audit_log", "/accounts/audit/"),
    Page("dashboard", "/"),
    Page("dashboard_all_resellers", "/?partner=resellers"),
]


# --- facts: computed in Django (manage.py bench_pages) for the signed-in user -------------------------------

FACTS: dict[str, Callable] = {}


def fact(func: Callable) -> Callable:
    """Register `func(user) -> dict` as a source of facts (one function may give several)."""
    FACTS[func.__name__] = func
    return func


def _pages(count: int) -> tuple[int, int]:
    """(deep page, last page) of a list of `count` rows at the default page size."""
    from portal.lib.lists import DEFAULT_PER_PAGE

    last = max(1, -(-count // DEFAULT_PER_PAGE))
    return min(DEEP_PAGE, max(1, last // 2)), last


def _customer_rows(user):
    """The rows of the customer list's default view (a distributor's "My customers" tab)."""
    from customers.models import Customer

    rows = Customer.objects.for_user(user).associated()
    if user.partner.is_distributor:
        rows = rows.filter(partner=user.partner)
    return rows


@fact
def customers(user) -> dict:
    from django.db.models import Count

    rows = _customer_rows(user)
    deep, last = _pages(rows.count())
    first = rows.order_by("-associated_on", "id").values("pk").first()
    # A name to search for: a whole customer name (the search matches whole values only).
    named = rows.exclude(name="").order_by("pk").values_list("name", flat=True)
    # The filtered page: the least common association type in the list, so the filter narrows it.
    types = rows.values("association_type").annotate(n=Count("pk")).order_by("n", "association_type")
    return {
        "customer_pk": first and first["pk"],
        "customer_name": named[named.count() // 2] if named.exists() else None,
        "customer_deep_page": deep,
        "customer_last_page": last,
        "customer_association_type": types[0]["association_type"] if types else None,
    }


@fact
def warnings(user) -> dict:
    from customers.models import CustomerWarning

    rows = CustomerWarning.objects.visible_to(user)
    deep, _last = _pages(rows.count())
    newest = rows.order_by("-send_time", "-pk").values_list("category", flat=True).first()
    return {"warning_deep_page": deep, "warning_category": newest}


@fact
def associations(user) -> dict:
    from django.utils import timezone

    from customers.models import AssociationEvent

    # Counted up to the list's cap: the deep page exists whatever the size (the list is bounded too).
    count = AssociationEvent.objects.for_user(user).order_by().values("pk")[:10_001].count()
    deep, _last = _pages(count)
    return {"association_deep_page": deep, "month": timezone.localdate().replace(day=1).isoformat()}


@fact
def orders(user) -> dict:
    from django.utils import timezone

    from customers.models import Order

    # Counted up to the list's cap, as the list does.
    count = Order.objects.visible_to(user).heads().order_by().values("pk")[:10_001].count()
    deep, _last = _pages(count)
    return {"order_deep_page": deep, "order_month": timezone.localdate().replace(day=1).isoformat()}


def compute_facts(user) -> dict:
    facts: dict = {}
    for func in FACTS.values():
        facts.update(func(user))
    return facts
