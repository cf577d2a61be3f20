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
    "customers:associations-export": ((302, 405), (200, 405)),
    "customers:requests": ((302, 405), (200, 405)),
    "customers:request-new": ((302, 302), (404, 404)),
    "customers:request-detail": ((302, 405), (404, 405)),
    "customers:request-withdraw": ((405, 302), (405, 404)),
    "customers:request-remind": ((405, 302), (405, 404)),
    "customers:request-decide": ((405, 302), (405, 404)),
    "customers:orders": ((302, 405), (200, 405)),
    "customers:orders-export": ((302, 405), (200, 405)),
    "customers:order-detail": ((302, 405), (404, 405)),
    "customers:order-items": ((302, 405), (404, 405)),
    "customers:order-pay": ((405, 302), (405, 404)),
    "customers:customer-orders": ((302, 405), (404, 405)),
    "customers:resources": ((302, 405), (200, 405)),
    "customers:customer-resources": ((302, 405), (404, 405)),
    "customers:customer-packages": ((302, 405), (404, 405)),
    "billing:adjustments": ((302, 405), (200, 405)),
    "billing:adjustment-export": ((302, 405), (200, 405)),
    "billing:adjustment-detail": ((302, 405), (404, 405)),
    "billing:adjustment-decide": ((405, 302), (405, 404)),
    "billing:settings": ((302, 302), (200, 200)),  # an empty POST shows the form again
    "billing:adjustment-new": ((302, 302), (404, 404)),
    "billing:adjustment-preview": ((302, 405), (404, 405)),
    "billing:adjustment-batch": ((302, 302), (200, 200)),  # an empty form comes back with its errors
    "billing:adjustment-batch-submit": ((405, 302), (405, 200)),  # a missing preview: the form again
    "billing:adjustment-batch-detail": ((302, 405), (404, 405)),
    "billing:adjustment-batch-export": ((302, 405), (404, 405)),
    "billing:resellers": ((302, 405), (200, 405)),
    "billing:reconciliation": ((302, 405), (200, 405)),
    "billing:reconciliation-explain": ((405, 302), (405, 302)),  # nothing to explain: back to the page
    "billing:reseller-adjust": ((302, 302), (404, 404)),
    "billing:reseller-adjust-preview": ((302, 405), (404, 405)),
    "billing:discounts": ((302, 405), (200, 405)),
    "billing:discount-export": ((302, 405), (200, 405)),
    "billing:discount-bulk": ((302, 302), (200, 200)),  # an empty form comes back with its errors
    "billing:discount-set": ((302, 302), (404, 404)),
    "billing:commercial-discounts": ((302, 405), (200, 405)),
    "billing:offers": ((302, 405), (200, 405)),
    "billing:offer-new": ((302, 302), (200, 200)),
    "billing:offer-invalidate": ((302, 302), (404, 404)),
    "billing:quote": ((302, 405), (200, 405)),
    "billing:quote-choices": ((302, 405), (200, 405)),
    "billing:quote-customers": ((302, 405), (302, 405)),  # a part of the inquiry page: htmx only
    "billing:quote-export": ((302, 405), (302, 405)),  # no quote: back to the inquiry form
    "billing:quote-print": ((302, 405), (302, 405)),
    "billing:customer-balance": ((302, 405), (404, 405)),
    "billing:customer-discounts": ((302, 405), (404, 405)),
    "billing:customer-adjust-records": ((302, 405), (404, 405)),
    "dev:outbox": ((302, 405), (200, 405)),  # the outsider's own messages only
    # creating customers (issue 14)
    "customers:new": ((302, 302), (200, 200)),  # an empty form comes back with its errors
    "customers:account-name-check": ((302, 405), (200, 405)),
    "customers:regions": ((302, 405), (200, 405)),
    "customers:contact-code": ((405, 302), (405, 200)),  # nothing to send to: a line saying why
    "customers:application": ((302, 405), (404, 405)),
    "customers:verification": ((302, 302), (404, 404)),
    "customers:document-upload": ((405, 302), (405, 404)),
    "customers:document": ((302, 405), (404, 405)),
    # inviting existing customers (issue 14)
    "customers:invitations": ((302, 405), (200, 405)),
    "customers:invitation-new": ((302, 302), (200, 200)),  # an empty form comes back with its errors
    "customers:invitation-revoke": ((405, 302), (405, 404)),
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


# --- fund adjustment (issue 9) ------------------------------------------------------------------------------


@register_foreign_argument("reseller_pk")
def _foreign_reseller_pk(partners):
    return partners["ra"].pk  # the distributor's reseller: not Reseller B's to act on


@register_foreign_argument("batch_pk")
def _foreign_batch_pk(partners):
    from billing.models import AdjustmentBatch

    batch = AdjustmentBatch.objects.filter(partner=partners["dist"]).first()
    return (batch or AdjustmentBatch.objects.create(partner=partners["dist"], kind="allocate")).pk


@register_foreign_argument("adjustment_pk")
def _foreign_adjustment_pk(partners):
    from decimal import Decimal

    from billing.models import Adjustment

    adjustment, _created = Adjustment.objects.get_or_create(
        form_token="urlwalk-foreign-adjustment",
        defaults={
            "partner": partners["dist"],
            "customer": _foreign_customer(partners),
            "kind": Adjustment.Kind.ALLOCATE,
            "amount": Decimal("1.00"),
        },
    )
    return adjustment.pk


# --- discounts (issue 10) -----------------------------------------------------------------------------------


@register_foreign_argument("offer_pk")
def _foreign_offer_pk(partners):
    from billing.models import DedicatedOffer

    offer, _created = DedicatedOffer.objects.get_or_create(
        offer_id="urlwalk-foreign-offer",
        defaults={
            "partner": partners["dist"],
            "name": "walk offer",
            "customer_account_name": "walk-c",
            "status": DedicatedOffer.Status.ACTIVE,
        },
    )
    return offer.pk


# --- association requests (issue 8) -------------------------------------------------------------------------


@register_foreign_argument("request_pk")
def _foreign_association_request_pk(partners):
    from datetime import timedelta

    from django.utils import timezone

    from customers.models import AssociationRequest

    customer = _foreign_customer(partners)
    request = AssociationRequest.objects.filter(customer=customer).first()
    if request is None:
        request = AssociationRequest.objects.create(
            partner=partners["dist"],
            customer=customer,
            kind=AssociationRequest.Kind.DISASSOCIATE,
            direction=AssociationRequest.Direction.PARTNER,
            status=AssociationRequest.Status.PENDING_CUSTOMER,
            from_association_type=customer.association_type,
            reason="walk",
            expires_at=timezone.now() + timedelta(days=7),
        )
    return request.pk


# --- orders and partner payment (issue 12) ------------------------------------------------------------------


@register_foreign_argument("order_pk")
def _foreign_order_pk(partners):
    from decimal import Decimal

    from customers.models import Order

    customer = _foreign_customer(partners)
    order, _created = Order.objects.get_or_create(
        order_id="URLWALK-FOREIGN-ORDER",
        defaults={
            "partner": partners["dist"],
            "customer": customer,
            "customer_upstream_id": customer.customer_id,
            "status": 6,
            "is_agent_pay": True,
            "official_amount": Decimal("10.00"),
            "amount_after_discount": Decimal("9.00"),
        },
    )
    return order.pk


# --- creating customers (issue 14) --------------------------------------------------------------------------


@register_foreign_argument("application_pk")
def _foreign_application_pk(partners):
    from customers.models import CustomerApplication

    application, _created = CustomerApplication.objects.get_or_create(
        partner=partners["dist"], account_name="urlwalk-foreign", defaults={"status": "failed"}
    )
    return application.pk


@register_foreign_argument("token")
def _foreign_document_token(partners):
    """A download link of the distributor's (signed for a user of its own): 404 for anyone else."""
    from django.core import signing

    from customers.realname import DOWNLOAD_SALT

    return signing.dumps({"d": 1, "u": 0, "t": 0}, salt=DOWNLOAD_SALT)


@register_foreign_argument("invitation_pk")
def _foreign_invitation_pk(partners):
    from datetime import timedelta

    from django.utils import timezone

    from customers.invitations import Invitation

    invitation, _created = Invitation.objects.get_or_create(
        partner=partners["dist"],
        email="urlwalk@example.com",
        defaults={"language": "en", "expires_at": timezone.now() + timedelta(days=7), "token_nonce": "x"},
    )
    return invitation.pk
