"""Sync mappings of the customers app: customers, warnings and association records.

Each dataset runs once per scope — the top partner and each reseller (indirect_partner_id) — and stores
rows under the partner that scope belongs to.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.db import connection, transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.db.models.functions import Concat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import partner_for_scope, upstream_scopes
from customers.models import AssociationEvent, Customer, CustomerWarning, Order, Resource, ResourcePackage
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
    _keep_portal_given_values(rows)
    created, updated = bulk_upsert(
        Customer, rows, key="customer_id", touch=("updated_at",), insert_only={"created_at": timezone.now()}
    )
    upstream_ids = [c.customer_id for c in items]
    _link_account_managers(partner_id, upstream_ids)
    _link_records(upstream_ids)
    # A customer switched between resale and referral gains or loses its balance column.
    Customer.objects.filter(customer_id__in=upstream_ids).refresh_balances()
    return created, updated


def _keep_portal_given_values(rows: list[dict]) -> None:
    """Customers the portal created (issue 14): the display name, label and contacts the partner gave on the
    form stand while the platform has nothing of its own for them. CreateSubCustomer takes none of them but
    the mobile, and a new account is listed with its account name as its name and no label or email; once
    the platform has a value (the verified real name after approval, a label set in its console), the
    platform's is authoritative."""
    from customers.onboarding import CustomerApplication

    given = {
        customer_id: rest
        for customer_id, *rest in CustomerApplication.objects.filter(
            status=CustomerApplication.Status.CREATED,
            customer__customer_id__in=[row["customer_id"] for row in rows],
        ).values_list("customer__customer_id", "display_name", "label", "contact_email", "contact_phone")
    }
    for row in rows:
        if row["customer_id"] not in given:
            continue
        display_name, label, email, phone = given[row["customer_id"]]
        if display_name and row["name"] in ("", row["account_name"]):
            row["name"] = display_name
        if label and not row["label"]:
            row["label"] = label
        if email and not row["email"]:
            row["email"] = email
        if phone and not row["phone"]:
            row["phone"] = phone


def _link_records(upstream_ids: list[str]) -> None:
    """Link the warnings and association records that arrived before their customer (one UPDATE each).

    Linked warnings count on their customer now: those customers' counters are recounted.
    """
    customer_pk = Customer.objects.filter(customer_id=OuterRef("customer_upstream_id")).values("pk")[:1]
    linked = 0
    for model in (CustomerWarning, AssociationEvent, Order):
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


# --- orders (issue 12) --------------------------------------------------------------------------------------


def fetch_orders(ctx: SyncContext):
    """Every order on a full run; an incremental run reads those created or paid since the last one.

    Both windows are open-ended (the platform limits a window to one year; a full run comes every hour, so
    `since` is always recent). A cancellation or a partner payment rejected on the platform changes neither
    time: the full run brings those.
    """
    since = ctx.since()
    if since is None:
        yield from paginate_scope(ctx, ctx.client.list_customer_orders)
        return
    yield from paginate_scope(ctx, ctx.client.list_customer_orders, create_time_begin=since)
    yield from paginate_scope(ctx, ctx.client.list_customer_orders, payment_time_begin=since)


def _order_row(o, partner_id: int, customers: dict[str, int], parent_id: str | None) -> dict:
    return {
        "order_id": o.order_id,
        "partner_id": partner_id,
        "customer_id": customers.get(o.customer_id),
        "customer_upstream_id": o.customer_id,
        "parent_id": parent_id,
        "is_combined": bool(o.sub_orders),
        "service_type_code": o.service_type_code or "",
        "service_type_name": o.service_type_name or "",
        "status": o.status,
        "order_type": o.order_type,
        "official_amount": o.official_amount,
        "amount_after_discount": o.amount_after_discount,
        "discounts": [{"type": d.discount_type, "amount": str(d.discount_amount)} for d in o.discounts],
        "currency": o.currency or "CNY",
        "ordered_at": o.create_time,
        "paid_at": o.payment_time,
        "payment_deadline": o.pending_payment_end_time,
        "is_agent_pay": o.is_agent_pay,
        "paying_agent_id": o.paying_agent_id or "",
    }


def apply_orders(ctx: SyncContext, items) -> tuple[int, int]:
    """A page of heads with their orders inside (one upsert for the page: heads and children)."""
    partner_id = scope_partner_id(ctx)
    customers = customer_ids_by_upstream_id(o.customer_id for o in items)
    rows = []
    for head in items:
        rows.append(_order_row(head, partner_id, customers, None))
        # A child lists no agent_pay_info of its own: it is paid (or handed back) with its head.
        rows += [
            {**_order_row(child, partner_id, customers, head.order_id), "is_agent_pay": head.is_agent_pay}
            for child in head.sub_orders
        ]
    ctx.advance([o.create_time for o in items] + [o.payment_time for o in items])
    return bulk_upsert(
        Order, rows, key="order_id", touch=("updated_at",), insert_only={"created_at": timezone.now()}
    )


ORDERS = register(
    Dataset(
        name="orders",
        label=_("Orders"),
        fetch=fetch_orders,
        apply=apply_orders,
        scopes=upstream_scopes,
        incremental=True,
        full_every=timedelta(hours=1),
        order=50,
    )
)


# --- resources and resource packages (issue 12) -------------------------------------------------------------
# The platform lists them per customer only: a run reads each associated customer of the scope in turn (a
# few requests each), so it is scheduled a few times a day, not every minute.


def _scope_customers(ctx: SyncContext) -> list[tuple[int, str]]:
    return list(
        Customer.objects.filter(partner_id=scope_partner_id(ctx), disassociated_at__isnull=True)
        .order_by("customer_id")
        .values_list("pk", "customer_id")
    )


def fetch_resources(ctx: SyncContext):
    """Each customer's yearly/monthly and on-demand resources, tagged with the customer's portal id."""
    for pk, customer_id in _scope_customers(ctx):
        ctx.cache["customer_pk"] = pk
        try:
            for method, charging in (
                (ctx.client.list_period_resources, Resource.Charging.PERIOD),
                (ctx.client.list_on_demand_resources, Resource.Charging.ON_DEMAND),
            ):
                for items in paginate_scope(ctx, partial(method, customer_id)):
                    yield [(pk, charging, item) for item in items]
        except NoRightOnCustomer:  # no longer this partner's: the customers sync marks it
            continue


def apply_resources(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    rows = [
        {
            "partner_id": partner_id,
            "customer_id": pk,
            "charging": charging,
            "resource_id": r.resource_id,
            "resource_name": r.resource_name or "",
            "region_code": r.region_code or "",
            "service_type_name": r.service_type_name or "",
            "resource_type_name": r.resource_type_name or r.resource_type_code or "",
            "spec": r.product_spec_desc or r.resource_spec_code or "",
            "order_id": getattr(r, "order_id", "") or "",
            "is_main_resource": getattr(r, "is_main_resource", True),
            "status": r.status,
            "effective_time": r.effective_time,
            "expire_time": r.expire_time,
            "renews_itself": getattr(r, "expire_policy", None) == 3,
        }
        for pk, charging, r in items
    ]
    return bulk_upsert(Resource, rows, key=("charging", "resource_id"), touch=("updated_at",))


def resources_gone(ctx: SyncContext, seen_keys) -> int:
    """Resources of this scope's customers the platform no longer lists (released, deleted) are removed."""
    key = Concat("charging", Value(":"), "resource_id", output_field=CharField())
    gone = (
        Resource.objects.filter(partner_id=scope_partner_id(ctx)).annotate(key=key).exclude(key__in=seen_keys)
    )
    return gone.delete()[0]


RESOURCES = register(
    Dataset(
        name="resources",
        label=_("Resources"),
        fetch=fetch_resources,
        apply=apply_resources,
        scopes=upstream_scopes,
        key=lambda row: f"{row[1]}:{row[2].resource_id}",
        on_vanished=resources_gone,
        order=60,
    )
)


def fetch_packages(ctx: SyncContext):
    for pk, customer_id in _scope_customers(ctx):
        try:
            for items in paginate_scope(ctx, partial(ctx.client.list_resource_packages, customer_id)):
                yield [(pk, item) for item in items]
        except NoRightOnCustomer:
            continue


def _package_items(package) -> tuple[list[dict], Decimal]:
    items, share = [], Decimal(0)
    for f in package.free_resources:
        items.append(
            {
                "name": f.usage_type_name,
                "used": str(f.used),
                "total": str(f.original_amount),
                "measure_id": f.measure_id,
            }
        )
        if f.original_amount > 0:
            share = max(share, min(f.used / f.original_amount, Decimal(1)))
    return items, round(share, 4)  # a share of use (0–1), not money


def apply_packages(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    rows = []
    for pk, p in items:
        package_items, share = _package_items(p)
        rows.append(
            {
                "partner_id": partner_id,
                "customer_id": pk,
                "package_id": p.order_instance_id,
                "order_id": p.order_id or "",
                "product_name": p.product_name or "",
                "service_type_name": p.service_type_name or "",
                "region_code": p.region_code or "",
                "status": p.status,
                "effective_time": p.effective_time,
                "expire_time": p.expire_time,
                "items": package_items,
                "used_share": share,
            }
        )
    return bulk_upsert(ResourcePackage, rows, key="package_id", touch=("updated_at",))


def packages_gone(ctx: SyncContext, seen_keys) -> int:
    """Packages the platform no longer lists are removed (it lists used-up and expired ones too)."""
    gone = ResourcePackage.objects.filter(partner_id=scope_partner_id(ctx)).exclude(package_id__in=seen_keys)
    return gone.delete()[0]


RESOURCE_PACKAGES = register(
    Dataset(
        name="resource_packages",
        label=_("Resource packages"),
        fetch=fetch_packages,
        apply=apply_packages,
        scopes=upstream_scopes,
        key=lambda row: row[1].order_instance_id,
        on_vanished=packages_gone,
        order=61,
    )
)
