"""Sync mapping of the accounts app: the distributor's resellers (ListIndirectPartners) become Partners."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Partner
from accounts.services import top_partner
from upstream.sync import Dataset, SyncContext, paginate, register
from upstream.upsert import bulk_upsert


def fetch_indirect_partners(ctx: SyncContext):
    yield from paginate(
        ctx, lambda offset, limit: ctx.client.list_indirect_partners(offset=offset, limit=limit)
    )


def apply_indirect_partners(ctx: SyncContext, items) -> tuple[int, int]:
    parent_id = ctx.cache.setdefault("parent_id", top_partner().pk)
    rows = [
        {
            "upstream_id": item.indirect_partner_id,
            "name": item.name or item.indirect_partner_id,
            "account_name": item.account_name or "",
            "email": item.email or "",
            "tier": Partner.Tier.RESELLER,
            "parent_id": parent_id,
        }
        for item in items
    ]
    return bulk_upsert(
        Partner,
        rows,
        key="upstream_id",
        touch=("updated_at",),
        insert_only={"created_at": timezone.now(), "require_step_up": False},
    )


INDIRECT_PARTNERS = register(
    Dataset(
        name="indirect_partners",
        label=_("Resellers"),
        fetch=fetch_indirect_partners,
        apply=apply_indirect_partners,
        order=10,
    )
)
