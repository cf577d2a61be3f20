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
