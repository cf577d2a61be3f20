"""Roles are Django groups with permissions. Each app lists what its roles may do here.

`sync_roles()` runs after every migrate (see AccountsConfig.ready), so a deploy brings the groups up to date.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from accounts.models import ROLE_ADMIN, ROLE_FINANCE, ROLE_SALES, ROLE_VIEWER

# Permissions as "app_label.codename". Later features add their own to these lists.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    ROLE_ADMIN: [
        "accounts.manage_partner",
        "accounts.view_auditevent",
        "accounts.view_outbox",
        "upstream.view_syncrun",
        "customers.view_customer",
        "customers.reveal_customer",
        "customers.export_customer",
        "customers.assign_account_manager",
        "customers.add_customerapplication",  # creating customers (issue 14)
        "customers.add_invitation",  # inviting existing customers (issue 14)
        "customers.add_realnameapplication",
        "customers.view_customerwarning",
        "customers.handle_warning",
        "customers.view_all_warnings",
        # association requests (issue 8): switching and disassociating are the admins' alone
        "customers.view_associationrequest",
        "customers.change_associationrequest",
        # discounts (issue 10)
        "billing.view_partnerdiscount",
        "billing.change_partnerdiscount",
        "billing.view_commercialdiscount",
        "billing.view_dedicatedoffer",
        "billing.add_dedicatedoffer",
        "billing.invalidate_dedicatedoffer",
        "billing.view_adjustment",
        "billing.add_adjustment",
        "billing.add_reconciliationnote",
        # orders and partner payment (issue 12)
        "customers.view_order",
        "customers.export_order",
        "customers.pay_order",
    ],
    ROLE_FINANCE: [
        "customers.view_customer",
        "customers.reveal_customer",
        "customers.export_customer",
        # discounts (issue 10)
        "billing.view_partnerdiscount",
        "billing.change_partnerdiscount",
        "billing.view_commercialdiscount",
        "billing.view_dedicatedoffer",
        "billing.add_dedicatedoffer",
        "billing.invalidate_dedicatedoffer",
        "billing.view_adjustment",
        "billing.add_adjustment",
        # orders and partner payment (issue 12)
        "customers.view_order",
        "customers.export_order",
        "customers.pay_order",
    ],
    ROLE_SALES: [
        "customers.view_customer",
        "customers.add_customerapplication",  # creating customers (issue 14)
        "customers.add_invitation",  # inviting existing customers (issue 14)
        "customers.add_realnameapplication",
        "customers.reveal_customer",
        "customers.export_customer",
        "customers.view_customerwarning",
        "customers.handle_warning",
        # discounts (issue 10)
        "billing.view_partnerdiscount",
        "billing.view_commercialdiscount",
        "billing.view_dedicatedoffer",
        # orders (issue 12): an account manager sees its own customers' (OrderQuerySet.visible_to)
        "customers.view_order",
        "customers.export_order",
    ],
    ROLE_VIEWER: [
        "customers.view_customer",
        "customers.view_order",
    ],
}


def sync_roles(**_kwargs) -> None:
    """Create the role groups and give each exactly the permissions listed for it."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in=[w.split(".", 1)[1] for w in wanted]
        )
    }
    missing = wanted - found.keys()
    if missing:
        raise ImproperlyConfigured(f"Unknown permissions in ROLE_PERMISSIONS: {', '.join(sorted(missing))}")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.set([found[p] for p in perms])
