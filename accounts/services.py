"""Operations on partners and staff that span several models."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.models import ROLES, Partner, User


@transaction.atomic
def ensure_partner(*, upstream_id: str, name: str, tier: str, parent: Partner | None = None) -> Partner:
    """Create or update the partner with this upstream id."""
    partner, _created = Partner.objects.update_or_create(
        upstream_id=upstream_id, defaults={"name": name, "tier": tier, "parent": parent}
    )
    return partner


@transaction.atomic
def ensure_staff_user(
    *,
    username: str,
    partner: Partner,
    role: str,
    password: str,
    email: str = "",
    phone: str = "",
    superuser: bool = False,
) -> User:
    """Create or reset a staff user of a partner with exactly one role."""
    if role not in ROLES:
        raise ValueError(f"Unknown role {role!r}; expected one of {', '.join(ROLES)}.")
    user, _created = User.objects.get_or_create(username=username)
    user.partner = partner
    user.email = email
    user.phone = phone
    user.is_active = True
    user.is_staff = superuser
    user.is_superuser = superuser
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    return user


class TopPartnerMissing(Exception):
    """The partner holding the upstream credentials has not been created yet."""


def top_partner() -> Partner:
    """The partner whose credentials the portal uses upstream (settings.UPSTREAM_PARTNER_ID)."""
    from django.conf import settings

    try:
        return Partner.objects.get(upstream_id=settings.UPSTREAM_PARTNER_ID, parent__isnull=True)
    except Partner.DoesNotExist:
        raise TopPartnerMissing(
            f"Create the partner with upstream id {settings.UPSTREAM_PARTNER_ID!r} first "
            "(admin site, or manage.py seed_demo for the demo)."
        ) from None


def partner_for_scope(scope: str | None) -> Partner:
    """The partner whose data an upstream scope holds: the top partner, or the reseller with that id."""
    if scope is None:
        return top_partner()
    return Partner.objects.get(upstream_id=scope, parent__isnull=False)


def upstream_scopes() -> list[str | None]:
    """Every scope to sync: the top partner (None) and each of its resellers' indirect_partner_id."""
    top = top_partner()
    return [None, *top.resellers.order_by("upstream_id").values_list("upstream_id", flat=True)]
