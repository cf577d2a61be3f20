"""The navigation and the signed-in user's partner and role, for templates/base.html."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

# (label, url name) or (label, [children]); the url name also marks the active entry.
NAVIGATION = [
    (_("Dashboard"), "portal:dashboard"),
    (
        _("Customers"),
        [
            (_("Customer list"), "customers:list"),
            (_("Customer warnings"), "customers:warnings"),
            (_("Association records"), "customers:associations"),
            (_("Requests"), "customers:requests"),
            (_("Orders"), "customers:orders"),
            (_("Expiring resources"), "customers:resources"),
        ],
    ),
    (
        _("Billing"),
        [
            (_("Adjustments"), "billing:adjustments"),
            (_("Balances"), "billing:resellers"),
            (_("Reconciliation"), "billing:reconciliation"),
            (_("Discounts"), "billing:discounts"),
            (_("Price inquiry"), "billing:quote"),
        ],
    ),
]


# Entries only some roles may open: url name → the permission it needs (hidden from the others).
NAV_PERMISSIONS = {
    "billing:adjustments": "billing.view_adjustment",
    "billing:resellers": "billing.view_adjustment",
    "billing:reconciliation": "billing.view_adjustment",
    "billing:discounts": "billing.view_partnerdiscount",
    # a customer's quote shows its discount: whoever may see discounts (sales, finance, admins; not viewers)
    "billing:quote": "billing.view_partnerdiscount",
    "customers:requests": "customers.view_associationrequest",
    "customers:orders": "customers.view_order",
}


def _entry(label, url_name, current):
    return {"label": label, "url": reverse(url_name), "active": url_name == current}


def shell(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"portal_demo": settings.PORTAL_DEMO}
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    return {
        "portal_demo": settings.PORTAL_DEMO,
        # Built only when the header is rendered, not when it comes from the fragment cache (~1 ms).
        "nav": SimpleLazyObject(lambda: navigation(user, current)),
        "show_admin_link": user.is_staff or user.is_superuser,
        "show_outbox_link": settings.PORTAL_DEMO and user.has_perm("accounts.view_outbox"),
    }


def navigation(user, current: str) -> list[dict]:
    """The entries the user may open, `current` (a view name) marked active: a function of the user's access
    and the page, both in the header fragment's key (portal.templatetags.portal.page_header)."""
    nav = []
    # Badges that load (and refresh) themselves through htmx: url name of the entry → the badge's url name.
    badges = (
        {"customers:warnings": "customers:warning-count"} if user.has_perm("customers.handle_warning") else {}
    )
    for label, target in NAVIGATION:
        if isinstance(target, list):
            allowed = [
                (c_label, c_url)
                for c_label, c_url in target
                if c_url not in NAV_PERMISSIONS or user.has_perm(NAV_PERMISSIONS[c_url])
            ]
            if not allowed:
                continue
            children = [_entry(c_label, c_url, current) for c_label, c_url in allowed]
            for child, (_c_label, c_url) in zip(children, allowed, strict=True):
                if c_url in badges:
                    child["badge_url"] = reverse(badges[c_url])
            entry = {"label": label, "children": children, "active": any(c["active"] for c in children)}
            # A child's badge shows on its menu button, so that it is visible without opening the menu.
            entry["badge_url"] = next((c["badge_url"] for c in children if "badge_url" in c), None)
            nav.append(entry)
        else:
            nav.append(_entry(label, target, current))
    return nav
