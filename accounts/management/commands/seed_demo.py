"""manage.py seed_demo: the demo partners and staff (README's demo logins; idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import ROLE_ADMIN, ROLE_FINANCE, ROLE_SALES, Partner
from accounts.roles import sync_roles
from accounts.services import ensure_partner, ensure_staff_user

DEMO_PASSWORD = "portal-demo"  # noqa: S105  (the documented demo password)

# (username, partner key, role, phone)
DEMO_STAFF = [
    ("dist-admin", "dist", ROLE_ADMIN, "13800000001"),
    ("dist-finance", "dist", ROLE_FINANCE, "13800000002"),
    ("dist-sales", "dist", ROLE_SALES, "13800000003"),
    ("ra-admin", "ra", ROLE_ADMIN, "13800000011"),
    ("ra-finance", "ra", ROLE_FINANCE, "13800000012"),
    ("ra-sales", "ra", ROLE_SALES, "13800000013"),
    ("rb-admin", "rb", ROLE_ADMIN, "13800000021"),
]


class Command(BaseCommand):
    help = "Create or reset the demo partners and staff logins (password portal-demo)."

    @transaction.atomic
    def handle(self, *args, **options):
        sync_roles()
        dist = ensure_partner(
            upstream_id="demo-distributor", name="Demo Distributor", tier=Partner.Tier.DISTRIBUTOR
        )
        partners = {
            "dist": dist,
            "ra": ensure_partner(
                upstream_id="ip-reseller-a", name="Reseller A", tier=Partner.Tier.RESELLER, parent=dist
            ),
            "rb": ensure_partner(
                upstream_id="ip-reseller-b", name="Reseller B", tier=Partner.Tier.RESELLER, parent=dist
            ),
        }
        for username, key, role, phone in DEMO_STAFF:
            ensure_staff_user(
                username=username,
                partner=partners[key],
                role=role,
                password=DEMO_PASSWORD,
                email=f"{username}@partner.example.com",
                phone=phone,
            )
        ensure_staff_user(
            username="root",
            partner=dist,
            role=ROLE_ADMIN,
            password=DEMO_PASSWORD,
            email="root@partner.example.com",
            superuser=True,
        )
        self.stdout.write(self.style.SUCCESS("Demo partners and staff are ready."))
        self.stdout.write("Logins (password portal-demo):")
        for username, key, role, _phone in DEMO_STAFF:
            self.stdout.write(f"  {username:<13} {partners[key].name:<17} {role}")
        self.stdout.write(f"  {'root':<13} {'(superuser)':<17} admin + /admin/")
