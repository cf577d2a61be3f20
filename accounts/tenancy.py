"""Tenancy: every query a view runs is scoped to the user's partner; other tenants' ids answer 404.

A model whose rows belong to a partner uses PartnerScopedQuerySet (naming its partner field), and views
fetch single objects through get_for_user_or_404 — never through an unscoped get().
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.http import Http404
from django.shortcuts import get_object_or_404

if TYPE_CHECKING:
    from accounts.models import Partner


class PartnerScopedQuerySet(models.QuerySet):
    """A queryset of rows that belong to a partner through `partner_field`."""

    partner_field = "partner"

    def for_partner(self, partner: Partner | None, *, include_resellers: bool = True):
        """Rows of this partner and, for a distributor, of its resellers; nothing for no partner."""
        if partner is None:
            return self.none()
        ids = partner.visible_partner_ids() if include_resellers else [partner.pk]
        return self.filter(**{f"{self.partner_field}__in": ids})

    def for_user(self, user, *, include_resellers: bool = True):
        return self.for_partner(getattr(user, "partner", None), include_resellers=include_resellers)


def scoped(model_or_queryset, user, *, include_resellers: bool = True):
    """The rows of a model (or queryset) the user's partner may see."""
    queryset = (
        model_or_queryset._default_manager.all() if isinstance(model_or_queryset, type) else model_or_queryset
    )
    return queryset.for_partner(getattr(user, "partner", None), include_resellers=include_resellers)


def get_for_user_or_404(model_or_queryset, user, *, include_resellers: bool = True, **lookup):
    """One object the user's partner may see, or Http404 (never 403: another tenant's ids do not exist)."""
    return get_object_or_404(scoped(model_or_queryset, user, include_resellers=include_resellers), **lookup)


def get_partner_or_404(user, partner_id: int) -> Partner:
    """A partner the user may act for: its own, or one of its resellers for a distributor."""
    from accounts.models import Partner

    partner = getattr(user, "partner", None)
    if partner is None or int(partner_id) not in partner.visible_partner_ids():
        raise Http404
    return Partner.objects.get(pk=partner_id)
