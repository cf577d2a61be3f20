"""Every URL pattern of the staff area, with arguments that name another tenant's objects.

Each feature that adds a URL registers here the exact status each method answers (EXPECTED_STATUS), and,
for a URL with arguments, how to make an object of the *outsider's* tenant for each argument name; the walk
then proves anonymous users are sent to sign in and users of another tenant get 404 (never 403, never the
object), and that nothing else answers differently from what is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django.urls import URLPattern, URLResolver, get_resolver

# URL namespaces that make up the staff area.
STAFF_NAMESPACES = {"portal", "accounts", "customers", "billing", "dev"}
# Pages anyone may open.
PUBLIC_VIEWS = {"accounts:login", "portal:healthz", "accounts:logout"}

# view name → the exact status of (GET, POST) with no data, for an anonymous visitor and for the outsider:
# Reseller B's administrator, with arguments naming objects of the distributor. 405: the method is not
# allowed; 302 for the anonymous visitor: to the sign-in page.
EXPECTED_STATUS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    #                                  anonymous    outsider
    "portal:dashboard": ((302, 405), (200, 405)),
    "portal:sync-status": ((302, 405), (200, 405)),
    "portal:sync-now": ((405, 302), (405, 403)),  # only partner staff with "sync now" may start a sync
    "accounts:password-change": ((302, 302), (200, 200)),  # an empty form comes back with its errors
    "accounts:password-done": ((302, 302), (200, 405)),  # sign-in is asked before the method is checked
    "accounts:profile": ((302, 302), (200, 200)),
    "accounts:totp-setup": ((302, 302), (200, 200)),
    "accounts:totp-remove": ((405, 302), (405, 302)),  # the outsider's own (absent) device: back to profile
    "accounts:partner-settings": ((302, 302), (200, 200)),  # the outsider's own partner
    "accounts:audit": ((302, 405), (200, 405)),
    "accounts:step-up-send": ((405, 302), (405, 200)),
    "customers:list": ((302, 405), (200, 405)),
    "customers:export": ((302, 405), (200, 405)),
    "customers:detail": ((302, 405), (404, 405)),
    "customers:assign": ((405, 302), (405, 404)),
    "customers:reveal": ((405, 302), (405, 404)),
    "customers:hide": ((302, 405), (404, 405)),
    "customers:warnings": ((302, 405), (200, 405)),
    "customers:warning-count": ((302, 405), (200, 405)),
    "customers:warning-handleable": ((302, 405), (200, 405)),
    "customers:warning-bulk-handle": ((405, 302), (405, 302)),  # nothing chosen: back to the inbox
    "customers:warning-detail": ((302, 405), (404, 405)),
    "customers:warning-handle": ((405, 302), (405, 404)),
    "customers:associations": ((302, 405), (200, 405)),
    "customers:requests": ((302, 405), (200, 405)),
    "billing:adjustments": ((302, 405), (200, 405)),
    "billing:discounts": ((302, 405), (200, 405)),
    "billing:customer-balance": ((302, 405), (404, 405)),
    "billing:customer-discounts": ((302, 405), (404, 405)),
    "billing:customer-adjust-records": ((302, 405), (404, 405)),
    "dev:outbox": ((302, 405), (200, 405)),  # the outsider's own messages only
}

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
