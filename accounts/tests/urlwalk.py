"""Every URL pattern of the staff area, with arguments that name another tenant's objects.

Each feature that adds a URL with arguments registers here how to make an object of the *outsider's*
tenant for each argument name; the walk then proves anonymous users are sent to sign in and users of
another tenant get 404 (never 403, never the object).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.urls import URLPattern, URLResolver, get_resolver

# URL namespaces that make up the staff area.
STAFF_NAMESPACES = {"portal", "accounts", "customers", "billing", "dev"}
# Pages anyone may open.
PUBLIC_VIEWS = {"accounts:login", "portal:healthz", "accounts:logout"}

# argument name → function(partners) returning a value that belongs to the other tenant (Reseller B).
FOREIGN_ARGUMENTS: dict[str, Callable[[dict], object]] = {}


def register_foreign_argument(name: str):
    def decorator(func):
        FOREIGN_ARGUMENTS[name] = func
        return func

    return decorator


def staff_patterns() -> Iterator[tuple[str, URLPattern]]:
    """(view name, pattern) for every staff-area URL."""

    def walk(resolver: URLResolver, namespace: str | None):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry, entry.namespace or namespace)
            elif namespace in STAFF_NAMESPACES and entry.name:
                yield f"{namespace}:{entry.name}", entry

    yield from walk(get_resolver(), None)


# --- customers (issue 4) ------------------------------------------------------------------------------------


def _foreign_customer(partners):
    # The distributor's own customer: foreign to both resellers, whichever of them plays the outsider.
    from customers.models import Customer

    customer, _created = Customer.objects.get_or_create(
        customer_id="urlwalk-foreign-customer",
        defaults={
            "partner": partners["dist"],
            "name": "外部客户",
            "account_name": "walk-c",
            "association_type": "2",
        },
    )
    return customer


@register_foreign_argument("customer_pk")
def _foreign_customer_pk(partners):
    return _foreign_customer(partners).pk


@register_foreign_argument("warning_pk")
def _foreign_warning_pk(partners):
    from django.utils import timezone

    from customers.models import CustomerWarning

    customer = _foreign_customer(partners)
    warning, _created = CustomerWarning.objects.get_or_create(
        warning_id="urlwalk-foreign-warning",
        defaults={
            "partner": partners["dist"],
            "customer": customer,
            "customer_upstream_id": customer.customer_id,
            "scene_name": "walk",
            "category": "CHURN",
            "title": "walk",
            "send_time": timezone.now(),
        },
    )
    return warning.pk


@register_foreign_argument("field")
def _any_personal_field(partners):
    return "name"  # not an object: the customer in the same URL is the foreign one
