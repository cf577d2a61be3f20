"""Sync mappings of the billing app: balances, adjust records, commercial discounts, dedicated offers."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.services import upstream_scopes
from billing import services
from billing.models import AdjustRecord, CommercialDiscount, CustomerAccount, DedicatedOffer, PartnerAccount
from customers.models import AssociationType, Customer
from customers.sync import customer_ids_by_upstream_id, scope_partner_id
from portal.lib.text import db_text
from upstream.sync import Dataset, SyncContext, paginate_scope, register
from upstream.upsert import bulk_upsert

BALANCE_BATCH = 100  # ListCustomersBalancesDetail takes 1–100 customers


# --- partner balances ---------------------------------------------------------------------------------------


def fetch_partner_balances(ctx: SyncContext):
    page = ctx.client.list_partner_balances(indirect_partner_id=ctx.scope)
    ctx.expect(len(page.items))
    yield page.items


def apply_partner_balances(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    rows = [
        {
            "partner_id": partner_id,
            "account_type": b.account_type,
            "account_id": b.account_id or "",
            "amount": b.amount,
            "designated_amount": b.designated_amount,
            "credit_amount": b.credit_amount,
            "currency": b.currency or "CNY",
        }
        for b in items
        if b.account_type is not None
    ]
    return bulk_upsert(PartnerAccount, rows, key=("partner_id", "account_type"), touch=("updated_at",))


PARTNER_BALANCES = register(
    Dataset(
        name="partner_balances",
        label=_("Partner balances"),
        fetch=fetch_partner_balances,
        apply=apply_partner_balances,
        scopes=upstream_scopes,
        order=50,
    )
)


# --- customer balances --------------------------------------------------------------------------------------


def fetch_customer_balances(ctx: SyncContext):
    """Ask for the balances of this scope's associated resale customers, 100 at a time (keyset order)."""
    customers = Customer.objects.filter(
        partner_id=scope_partner_id(ctx),
        association_type=AssociationType.RESALE,
        disassociated_at__isnull=True,
    ).order_by("customer_id")
    ctx.expect(customers.count())
    last = ""
    while True:
        batch = dict(customers.filter(customer_id__gt=last).values_list("customer_id", "id")[:BALANCE_BATCH])
        if not batch:
            return
        ctx.cache["batch_ids"] = batch  # the portal ids of this batch, so that apply needs no lookup
        ids = list(batch)
        yield ctx.client.list_customers_balances(ids, indirect_partner_id=ctx.scope).items
        last = ids[-1]


def apply_customer_balances(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    customers = ctx.cache.get("batch_ids") or customer_ids_by_upstream_id(b.customer_id for b in items)
    rows = [
        {
            "customer_id": customers[b.customer_id],
            "partner_id": partner_id,
            "amount": b.amount,
            "debt_amount": b.debt_amount,
            "currency": b.currency or "CNY",
        }
        for b in items
        if b.customer_id in customers
    ]
    counts = bulk_upsert(CustomerAccount, rows, key="customer_id", touch=("updated_at",))
    pks = [row["customer_id"] for row in rows]
    Customer.objects.filter(pk__in=pks).refresh_balances()
    # Today's balance joins the history, and the runway follows (two statements per page).
    services.record_balance_history({row["customer_id"]: row["amount"] for row in rows})
    services.refresh_runway(pks)
    return counts


CUSTOMER_BALANCES = register(
    Dataset(
        name="customer_balances",
        label=_("Customer balances"),
        fetch=fetch_customer_balances,
        apply=apply_customer_balances,
        scopes=upstream_scopes,
        order=60,
    )
)


# --- adjust records -----------------------------------------------------------------------------------------


def fetch_adjust_records(ctx: SyncContext):
    since = ctx.since()
    yield from paginate_scope(ctx, ctx.client.list_adjust_records, operation_time_begin=since)


def apply_adjust_records(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    customers = customer_ids_by_upstream_id(r.customer_id for r in items)
    rows = [
        {
            "trans_id": r.trans_id,
            "partner_id": partner_id,
            "customer_id": customers.get(r.customer_id),
            "customer_upstream_id": r.customer_id or "",
            "customer_name": r.customer_name or "",
            "operation_type": r.operation_type,
            "amount": r.amount,
            "currency": r.currency or "CNY",
            "apply_scene": r.apply_scene or "",
            "operation_time": r.operation_time,
            "memo": r.memo or "",
        }
        for r in items
    ]
    ctx.advance([r.operation_time for r in items])
    return bulk_upsert(AdjustRecord, rows, key="trans_id", insert_only={"created_at": timezone.now()})


ADJUST_RECORDS = register(
    Dataset(
        name="adjust_records",
        label=_("Adjust records"),
        fetch=fetch_adjust_records,
        apply=apply_adjust_records,
        scopes=upstream_scopes,
        incremental=True,
        full_every=timedelta(hours=6),
        order=70,
    )
)


# --- commercial discounts and dedicated offers --------------------------------------------------------------


def fetch_commercial_discounts(ctx: SyncContext):
    yield from paginate_scope(ctx, ctx.client.list_commercial_discounts)


def apply_commercial_discounts(ctx: SyncContext, items) -> tuple[int, int]:
    partner_id = scope_partner_id(ctx)
    customers = customer_ids_by_upstream_id(d.customer_id for d in items)
    rows = [
        {
            "discount_id": d.discount_id,
            "partner_id": partner_id,
            "customer_id": customers.get(d.customer_id),
            "customer_upstream_id": d.customer_id or "",
            "business_name": d.business_name or "",
            "discount_type": d.discount_type,
            "discount_rate": d.discount_rate,
            "status": d.status,
            "effective_time": d.effective_time,
            "expire_time": d.expire_time,
        }
        for d in items
    ]
    return bulk_upsert(CommercialDiscount, rows, key="discount_id", touch=("updated_at",))


COMMERCIAL_DISCOUNTS = register(
    Dataset(
        name="commercial_discounts",
        label=_("Commercial discounts"),
        fetch=fetch_commercial_discounts,
        apply=apply_commercial_discounts,
        scopes=upstream_scopes,
        order=80,
    )
)


def fetch_dedicated_offers(ctx: SyncContext):
    yield from paginate_scope(ctx, ctx.client.list_dedicated_offers)


def apply_dedicated_offers(ctx: SyncContext, items) -> tuple[int, int]:
    """Upsert a page of offers by offer_id.

    An offer the portal asked for has no offer_id until the outbox records the upstream's answer: a page that
    brings it first names it, so it is matched by name (unique per partner) and given its id here, instead of
    becoming a second row. An ACTIVE offer past its expiry time is EXPIRED (as the beat task makes it), so the
    sync never brings an expired offer back to life.
    """
    partner_id = scope_partner_id(ctx)
    now = timezone.now()
    # Upstream text is untrusted (a NUL byte cannot even be a query parameter): compared as it is stored.
    creating = dict(
        DedicatedOffer.objects.filter(
            partner_id=partner_id, offer_id__isnull=True, name__in=[db_text(o.name) for o in items]
        )
        .exclude(status=DedicatedOffer.Status.CREATE_FAILED)
        .values_list("name", "pk")
    )
    for offer in items:
        if db_text(offer.name) in creating and offer.offer_id:
            DedicatedOffer.objects.filter(pk=creating[db_text(offer.name)], offer_id__isnull=True).update(
                offer_id=db_text(offer.offer_id)
            )
    customers = dict(
        Customer.objects.filter(
            partner_id=partner_id,
            account_name__in={db_text(o.customer_account_name) for o in items} - {""},
        ).values_list("account_name", "id")
    )
    rows = [
        {
            "offer_id": o.offer_id,
            "partner_id": partner_id,
            "name": o.name,
            "customer_id": customers.get(db_text(o.customer_account_name)),
            "customer_account_name": o.customer_account_name or "",
            "product_ids": list(o.product_ids),
            "effective_time": o.effective_time,
            "expire_time": o.expire_time,
            "status": (
                DedicatedOffer.Status.EXPIRED
                if o.status == DedicatedOffer.Status.ACTIVE and o.expire_time and o.expire_time <= now
                else o.status
            ),
        }
        for o in items
    ]
    return bulk_upsert(DedicatedOffer, rows, key="offer_id", touch=("updated_at",))


DEDICATED_OFFERS = register(
    Dataset(
        name="dedicated_offers",
        label=_("Dedicated offers"),
        fetch=fetch_dedicated_offers,
        apply=apply_dedicated_offers,
        scopes=upstream_scopes,
        order=90,
    )
)
