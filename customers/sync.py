"""Sync mappings of the customers app: customers, warnings and association records.

Each dataset runs once per scope — the top partner and each reseller (indirect_partner_id) — and stores
rows under the partner that scope belongs to.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import partner_for_scope, upstream_scopes
from customers.models import AssociationEvent, Customer, CustomerWarning
from upstream.errors import NoRightOnCustomer, UpstreamError
from upstream.sync import Dataset, SyncContext, paginate_scope, register
from upstream.upsert import bulk_upsert

logger = logging.getLogger(__name__)


def scope_partner_id(ctx: SyncContext) -> int:
    if "partner_id" not in ctx.cache:
        ctx.cache["partner_id"] = partner_for_scope(ctx.scope).pk
    return ctx.cache["partner_id"]


def customer_ids_by_upstream_id(upstream_ids) -> dict[str, int]:
    """One query: the portal ids of the customers with these upstream ids."""
    return dict(Customer.objects.filter(customer_id__in=set(upstream_ids)).values_list("customer_id", "id"))


# --- customers ----------------------------------------------------------------------------------------------


def fetch_customers(ctx: SyncContext):
    yield from paginate_scope(ctx, ctx.client.list_sub_customers)


def apply_customers(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    rows = [
        {
            "customer_id": c.customer_id,
            "partner_id": partner_id,
            "name": c.name or "",
            "account_name": c.account_name or "",
            "phone": c.telephone or "",
            "email": c.email or "",
            "country_code": c.country_code or "",
            "association_type": c.association_type,
            "associated_on": c.associated_on,
            "label": c.label or "",
            "customer_level": c.customer_level or "",
            "verified_status": c.verified_status,
            "customer_type": c.customer_type,
            "frozen_status": c.is_frozen or 0,
            "upstream_account_manager": c.account_manager_name or "",
            "disassociated_at": None,
        }
        for c in items
    ]
    created, updated = bulk_upsert(
        Customer, rows, key="customer_id", touch=("updated_at",), insert_only={"created_at": timezone.now()}
    )
    upstream_ids = [c.customer_id for c in items]
    _link_account_managers(partner_id, upstream_ids)
    _link_records(upstream_ids)
    # A customer switched between resale and referral gains or loses its balance column.
    Customer.objects.filter(customer_id__in=upstream_ids).refresh_balances()
    return created, updated


def _link_records(upstream_ids: list[str]) -> None:
    """Link the warnings and association records that arrived before their customer (one UPDATE each).

    Linked warnings count on their customer now: those customers' counters are recounted.
    """
    customer_pk = Customer.objects.filter(customer_id=OuterRef("customer_upstream_id")).values("pk")[:1]
    linked = 0
    for model in (CustomerWarning, AssociationEvent):
        count = model.objects.filter(customer__isnull=True, customer_upstream_id__in=upstream_ids).update(
            customer_id=Subquery(customer_pk)
        )
        if model is CustomerWarning:
            linked = count
    if linked:
        Customer.objects.filter(customer_id__in=upstream_ids).recount_open_warnings()


def _link_account_managers(partner_id: int, upstream_ids: list[str]) -> None:
    """Give customers without an account manager the staff user the upstream names (same partner).

    The portal owns the assignment afterwards (staff may reassign); the sync fills only empty ones.
    """
    customer_table = Customer._meta.db_table
    user_table = User._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {customer_table} AS c SET account_manager_id = u.id
            FROM {user_table} AS u
            WHERE c.partner_id = %s AND c.account_manager_id IS NULL AND c.upstream_account_manager <> ''
              AND u.username = c.upstream_account_manager AND u.partner_id = c.partner_id AND u.is_active
              AND c.customer_id = ANY(%s)
            """,  # noqa: S608  (table names come from model meta, values are parameters)
            [partner_id, upstream_ids],
        )


def customers_gone(ctx: SyncContext, seen_keys) -> int:
    """Customers of this scope that no longer appear upstream are marked disassociated, never deleted."""
    now = timezone.now()
    return (
        Customer.objects.filter(partner_id=scope_partner_id(ctx), disassociated_at__isnull=True)
        .exclude(customer_id__in=seen_keys)
        .update(disassociated_at=now, updated_at=now)
    )


CUSTOMERS = register(
    Dataset(
        name="customers",
        label=_("Customers"),
        fetch=fetch_customers,
        apply=apply_customers,
        scopes=upstream_scopes,
        key=lambda c: c.customer_id,
        on_vanished=customers_gone,
        order=20,
    )
)


# --- warnings -----------------------------------------------------------------------------------------------


def fetch_warnings(ctx: SyncContext):
    since = ctx.since()
    for items in paginate_scope(ctx, ctx.client.list_customer_warnings, send_time_begin=since):
        mirror_unknown_customers(ctx, {w.customer_id for w in items if w.customer_id})
        yield items


def mirror_unknown_customers(ctx: SyncContext, upstream_ids: set[str]) -> int:
    """Fetch (by customer_id) and store the customers these warnings name that are not mirrored yet.

    Customers are synced every few minutes, warnings every 30 s: a new customer's first warning would
    otherwise be stored before its customer, with nothing to mask its name by. Fetched here, in the same run,
    the warning is linked (and masked) as it is stored. A customer the upstream does not give (no longer
    associated) is asked for once per run; the warning stays unlinked and masked by pattern meanwhile.
    """
    asked = ctx.cache.setdefault("customers_asked", set())
    unknown = set(upstream_ids) - asked - set(customer_ids_by_upstream_id(upstream_ids))
    found = []
    for customer_id in sorted(unknown):
        asked.add(customer_id)
        try:
            page = ctx.client.list_sub_customers(
                customer_id=customer_id, indirect_partner_id=ctx.scope, limit=1
            )
        except NoRightOnCustomer:
            continue
        except UpstreamError as exc:
            logger.warning("sync warnings: customer %s could not be fetched: %s", customer_id, exc)
            continue
        found.extend(c for c in page.items if c.customer_id == customer_id)
    if found:
        with transaction.atomic():
            apply_customers(ctx, found)
    return len(found)


def apply_warnings(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    customers = customer_ids_by_upstream_id(w.customer_id for w in items)
    rows = [
        {
            "warning_id": w.warning_id,
            "partner_id": partner_id,
            "customer_id": customers.get(w.customer_id),
            "customer_upstream_id": w.customer_id,
            "scene_name": w.scene_name or "",
            "category": w.category,
            "title": w.title or "",
            "content": w.content or "",
            "send_time": w.send_time,
            "status": w.status,
            "handle_result": w.handle_result or "",
            "handled_at": w.handled_at,
        }
        for w in items
    ]
    # Warnings handled in the portal whose result is not yet confirmed upstream keep their local handling:
    # the upstream still says PENDING until the push lands, and must not undo the user's work meanwhile.
    # (One query for the stored rows: their customers' counters are recounted too, in case a link moved.)
    stored = list(
        CustomerWarning.objects.filter(warning_id__in=[row["warning_id"] for row in rows]).values(
            "warning_id", "customer_id", "push_pending", "status", "handle_result", "handled_at"
        )
    )
    held = {local["warning_id"]: local for local in stored if local["push_pending"]}
    for row in rows:
        local = held.get(row["warning_id"])
        if local is not None:
            row.update(
                status=local["status"], handle_result=local["handle_result"], handled_at=local["handled_at"]
            )
    ctx.advance([w.send_time for w in items])
    result = bulk_upsert(
        CustomerWarning,
        rows,
        key="warning_id",
        touch=("updated_at",),
        insert_only={"created_at": timezone.now()},
    )
    # The page's customers' open-warning counters, recounted after the upsert (one lock, one UPDATE).
    touched = {row["customer_id"] for row in rows} | {local["customer_id"] for local in stored}
    touched.discard(None)
    if touched:
        Customer.objects.filter(pk__in=touched).recount_open_warnings()
    return result


WARNINGS = register(
    Dataset(
        name="warnings",
        label=_("Customer warnings"),
        fetch=fetch_warnings,
        apply=apply_warnings,
        scopes=upstream_scopes,
        incremental=True,
        full_every=timedelta(minutes=30),
        order=30,
    )
)


# --- association records ------------------------------------------------------------------------------------


def fetch_association_records(ctx: SyncContext):
    since = ctx.since()
    yield from paginate_scope(ctx, ctx.client.list_association_records, operation_time_begin=since)


def apply_association_records(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    customers = customer_ids_by_upstream_id(r.customer_id for r in items)
    rows = [
        {
            "record_id": r.record_id,
            "partner_id": partner_id,
            "customer_id": customers.get(r.customer_id),
            "customer_upstream_id": r.customer_id,
            "operation": r.operation_type,
            "association_type": r.association_type or "",
            "from_association_type": r.from_association_type or "",
            "occurred_at": r.operation_time,
            "initiator": r.initiator or "",
        }
        for r in items
    ]
    ctx.advance([r.operation_time for r in items])
    # The source is written on insert only: a record the portal's own workflow wrote first (an applied
    # association request, customers.services.apply_change_succeeded) stays the portal's.
    return bulk_upsert(
        AssociationEvent,
        rows,
        key="record_id",
        insert_only={"created_at": timezone.now(), "source": AssociationEvent.Source.UPSTREAM},
    )


ASSOCIATION_RECORDS = register(
    Dataset(
        name="association_records",
        label=_("Association records"),
        fetch=fetch_association_records,
        apply=apply_association_records,
        scopes=upstream_scopes,
        incremental=True,
        full_every=timedelta(hours=6),
        order=40,
    )
)
