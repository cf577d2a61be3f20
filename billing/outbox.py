"""Outbox handlers of the billing app: allocations and reclaims, partner discounts and dedicated offers.

The upstream's allocate/reclaim APIs take no idempotency key, so every kind here is serial (one in flight per
partner whose money moves) and, for customers, reconciles an unknown outcome against the adjust records
before anything is sent again.

Reseller adjustments (distributor ↔ reseller) have no reseller filter on the adjust records in the contract.
The best read available is the distributor's own adjust records of the time window since the send, matched
on the records' counterparty (customer_id, which holds the reseller's id for an INDIRECT_PARTNER record),
operation type and amount. A match proves the transfer was applied; no match proves nothing (the contract
does not promise that reseller transfers are listed there), so a reseller command whose record is not found
is never resent automatically: it stays `unknown`, looked up again now and then, and holds its partner's
money queue until it is found or an operator marks it applied or resends it in the admin site.
"""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import audit
from billing import services
from billing.models import Adjustment, AdjustRecord, CustomerAccount, DedicatedOffer, PartnerAccount
from customers.models import Customer
from portal.lib.money import parse_decimal, parse_money
from upstream.errors import OutcomeUnknown, UpstreamError
from upstream.outbox import Handler, is_transient, reconcile_since, register_handler
from upstream.types import AdjustRecord as UpstreamAdjustRecord

RESELLER_SCENE = "INDIRECT_PARTNER"  # apply_scene of a distributor ↔ reseller record


def _adjustment(command, *, lock: bool = False) -> Adjustment:
    queryset = Adjustment.objects.select_related("partner", "customer", "reseller")
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.get(pk=command.object_id or command.payload["adjustment_id"])


def _transfer(transfer) -> dict:
    return {"transaction_id": transfer.transaction_id}


# --- send ---------------------------------------------------------------------------------------------------


def _sending(command) -> dict:
    adjustment = _adjustment(command)
    adjustment.mark_sent()
    return command.payload


def send_allocate(client, command) -> dict:
    p = _sending(command)
    return _transfer(
        client.allocate_to_customer(
            p["customer_id"], p["amount"], indirect_partner_id=p["indirect_partner_id"]
        )
    )


def send_reclaim(client, command) -> dict:
    p = _sending(command)
    return _transfer(
        client.reclaim_from_customer(
            p["customer_id"], p["amount"], indirect_partner_id=p["indirect_partner_id"]
        )
    )


def send_allocate_reseller(client, command) -> dict:
    p = _sending(command)
    return _transfer(client.allocate_to_reseller(p["indirect_partner_id"], p["amount"]))


def send_reclaim_reseller(client, command) -> dict:
    p = _sending(command)
    return _transfer(client.reclaim_from_reseller(p["indirect_partner_id"], p["amount"]))


# --- outcome ------------------------------------------------------------------------------------------------


def _move_balances(adjustment: Adjustment) -> None:
    """Keep the mirrored balances in step until the next balance sync overwrites them with the upstream's.

    The paying partner's balance row is updated last: every new request of that partner locks it for its
    balance check (services._validate_funds), so it is held only from here to the commit.
    """
    sign = -1 if adjustment.kind == Adjustment.Kind.ALLOCATE else 1
    delta = adjustment.amount * sign
    now = timezone.now()
    if adjustment.customer_id:
        CustomerAccount.objects.filter(customer=adjustment.customer).update(
            amount=F("amount") - delta, updated_at=now
        )
        Customer.objects.filter(pk=adjustment.customer_id).refresh_balances()
    PartnerAccount.objects.filter(
        partner=adjustment.partner, account_type=PartnerAccount.AccountType.BALANCE
    ).update(amount=F("amount") + delta, updated_at=now)
    if not adjustment.customer_id:
        PartnerAccount.objects.filter(
            partner=adjustment.reseller, account_type=PartnerAccount.AccountType.BALANCE
        ).update(amount=F("amount") - delta, updated_at=now)


def on_success(command, result: dict) -> None:
    adjustment = _adjustment(command, lock=True)
    adjustment.mark_succeeded(result["transaction_id"])
    _move_balances(adjustment)


def on_failure(command, error: Exception) -> None:
    adjustment = _adjustment(command, lock=True)
    # Stored as "CODE: upstream text", so that pages say it in their reader's language (error_display).
    code = getattr(error, "error_code", None)
    if code:
        adjustment.mark_failed(f"{code}: {getattr(error, 'error_msg', None) or ''}".rstrip(": "))
    else:
        adjustment.mark_failed(getattr(error, "message", None) or str(error))


# --- reconcile ----------------------------------------------------------------------------------------------


def _operation_type(adjustment: Adjustment) -> str:
    if adjustment.kind == Adjustment.Kind.ALLOCATE:
        return UpstreamAdjustRecord.ALLOCATE
    return UpstreamAdjustRecord.RECLAIM


def reconcile_customer(client, command) -> dict | None:
    """Find the transfer in the adjust records: same customer, type and amount since the send, unclaimed."""
    p = command.payload
    adjustment = _adjustment(command)
    records = client.iter_all(
        client.list_adjust_records,
        customer_id=p["customer_id"],
        operation_type=_operation_type(adjustment),
        operation_time_begin=reconcile_since(command),
        indirect_partner_id=p["indirect_partner_id"],
    )
    return _unclaimed(command, adjustment, [r for r in records if r.amount == parse_money(p["amount"])])


def reconcile_reseller(client, command) -> dict | None:
    """Find a reseller transfer in the distributor's adjust records since the send (see the docstring)."""
    p = command.payload
    adjustment = _adjustment(command)
    records = client.iter_all(
        client.list_adjust_records,
        operation_type=_operation_type(adjustment),
        operation_time_begin=reconcile_since(command),
    )
    return _unclaimed(
        command,
        adjustment,
        [
            r
            for r in records
            if r.customer_id == p["indirect_partner_id"]
            and r.apply_scene == RESELLER_SCENE
            and r.amount == parse_money(p["amount"])
        ],
    )


def _unclaimed(command, adjustment: Adjustment, records) -> dict | None:
    """This adjustment's record among matching ones: the oldest no other adjustment or earlier sync claimed.

    With one adjustment in flight per partner, the only record of that amount that no other adjustment has
    claimed as its transaction is this one's. Records the balance sync had already mirrored before the send
    existed before it, so they are not this one's either (e.g. a transfer made in the partner console).
    """
    records = [r for r in records if r.trans_id]
    if not records:
        return None
    trans_ids = [r.trans_id for r in records]
    claimed = set(
        Adjustment.objects.filter(upstream_transaction_id__in=trans_ids)
        .exclude(pk=adjustment.pk)
        .values_list("upstream_transaction_id", flat=True)
    )
    claimed.update(
        AdjustRecord.objects.filter(trans_id__in=trans_ids, created_at__lt=command.sent_at).values_list(
            "trans_id", flat=True
        )
    )
    for record in sorted(records, key=lambda r: (r.operation_time or timezone.now(), r.trans_id)):
        if record.trans_id not in claimed:
            return {"transaction_id": record.trans_id, "reconciled": True}
    return None


ALLOCATE = register_handler(
    Handler(
        kind=services.ALLOCATE,
        send=send_allocate,
        on_success=on_success,
        on_failure=on_failure,
        reconcile=reconcile_customer,
        serial=True,
        operator_result=("transaction_id",),
    )
)
RECLAIM = register_handler(
    Handler(
        kind=services.RECLAIM,
        send=send_reclaim,
        on_success=on_success,
        on_failure=on_failure,
        reconcile=reconcile_customer,
        serial=True,
        operator_result=("transaction_id",),
    )
)
# A found record closes them; a missing one proves nothing (see the module docstring): never resent blindly.
ALLOCATE_RESELLER = register_handler(
    Handler(
        kind=services.ALLOCATE_RESELLER,
        send=send_allocate_reseller,
        on_success=on_success,
        on_failure=on_failure,
        reconcile=reconcile_reseller,
        reconcile_proves_absence=False,
        serial=True,
        operator_result=("transaction_id",),
    )
)
RECLAIM_RESELLER = register_handler(
    Handler(
        kind=services.RECLAIM_RESELLER,
        send=send_reclaim_reseller,
        on_success=on_success,
        on_failure=on_failure,
        reconcile=reconcile_reseller,
        reconcile_proves_absence=False,
        serial=True,
        operator_result=("transaction_id",),
    )
)


# --- discounts and dedicated offers -------------------------------------------------------------------------
#
# None of these moves money, so they are not serial. Each reads the upstream's state before anything is
# resent (and when a send is refused): a discount already at the requested values, an offer of that name
# already created, an offer already invalidated are successes, whoever's call got them there.


def _same_time(a, b) -> bool:
    return a is not None and b is not None and abs((a - b).total_seconds()) < 1


def _discount_applied(client, command) -> dict | None:
    p = command.payload
    current = client.get_partner_discount(p["customer_id"], indirect_partner_id=p.get("indirect_partner_id"))
    if (
        current is not None
        and current.discount == parse_decimal(p["discount"])
        and _same_time(current.effective_time, parse_datetime(p["effective_time"]))
        and _same_time(current.expire_time, parse_datetime(p["expire_time"]))
    ):
        return {"customer_id": p["customer_id"], "discount": p["discount"], "reconciled": True}
    return None


def send_set_discount(client, command) -> dict:
    p = command.payload
    try:
        client.set_partner_discount(
            p["customer_id"],
            p["discount"],
            effective_time=parse_datetime(p["effective_time"]),
            expire_time=parse_datetime(p["expire_time"]),
            indirect_partner_id=p.get("indirect_partner_id"),
        )
    except UpstreamError as exc:
        if isinstance(exc, OutcomeUnknown) or is_transient(exc):
            raise
        found = _refused_but_applied(client, command, _discount_applied)
        if found is None:
            raise
        return found
    return {"customer_id": p["customer_id"], "discount": p["discount"]}


def _refused_but_applied(client, command, lookup) -> dict | None:
    """After a refusal: the upstream may already be in the requested state (then it is success)."""
    try:
        return lookup(client, command)
    except UpstreamError:
        return None


def discount_success(command, result: dict) -> None:
    services.apply_discount_success(command.payload)


def discount_failure(command, error: Exception) -> None:
    services.apply_discount_failure(command.payload, getattr(error, "message", None) or str(error))


def _upstream_offer(client, command, *, name: str | None = None, offer_id: str | None = None):
    p = command.payload
    offers = client.iter_all(
        client.list_dedicated_offers,
        customer_id=p.get("customer_id") or None,
        indirect_partner_id=p.get("indirect_partner_id"),
    )
    for offer in offers:
        if (offer_id and offer.offer_id == offer_id) or (name and offer.name == name):
            return offer
    return None


def _offer_created(client, command) -> dict | None:
    """The offer of this name, if the upstream has it for the same customer account."""
    p = command.payload
    offer = _upstream_offer(client, command, name=p["name"])
    if offer is not None and offer.customer_account_name == p["customer_account_name"]:
        return {"offer_id": offer.offer_id, "reconciled": True}
    return None


def send_create_offer(client, command) -> dict:
    p = command.payload
    try:
        created = client.create_dedicated_offer(
            name=p["name"],
            customer_account_name=p["customer_account_name"],
            product_ids=p["product_ids"],
            effective_time=parse_datetime(p["effective_time"]),
            expire_time=parse_datetime(p["expire_time"]),
            indirect_partner_id=p.get("indirect_partner_id"),
        )
    except UpstreamError as exc:
        if isinstance(exc, OutcomeUnknown) or is_transient(exc):
            raise
        found = _refused_but_applied(client, command, _offer_created)
        if found is None:
            raise
        return found
    return {"offer_id": created.offer_id}


def _offer(command) -> DedicatedOffer | None:
    pk = command.object_id or command.payload.get("offer_pk")
    return (
        DedicatedOffer.objects.select_for_update(of=("self",)).select_related("partner").filter(pk=pk).first()
    )


def offer_created(command, result: dict) -> None:
    offer = _offer(command)
    if offer is None:
        return
    if offer.status == DedicatedOffer.Status.CREATING:
        offer.mark_created(result["offer_id"])
    elif not offer.offer_id:  # the sync found it by name first; only the id was missing
        DedicatedOffer.objects.filter(pk=offer.pk).update(offer_id=result["offer_id"])


def offer_create_failed(command, error: Exception) -> None:
    offer = _offer(command)
    message = getattr(error, "message", None) or str(error)
    if offer is not None and offer.status == DedicatedOffer.Status.CREATING:
        offer.mark_create_failed(message)
        audit.record(
            "dedicated_offer_push_failed",
            partner=offer.partner,
            target=offer,
            target_label=offer.name,
            summary=f"{offer.name}: {message}"[:200],
            data={"error": message},
        )


def _offer_invalidated(client, command) -> dict | None:
    offer = _upstream_offer(client, command, offer_id=command.payload["offer_id"])
    if offer is not None and offer.status == "INVALIDATED":
        return {"offer_id": offer.offer_id, "status": offer.status, "reconciled": True}
    return None


def send_invalidate_offer(client, command) -> dict:
    p = command.payload
    try:
        client.invalidate_dedicated_offer(
            p["offer_id"], reason=p["reason"], indirect_partner_id=p.get("indirect_partner_id")
        )
    except UpstreamError as exc:
        if isinstance(exc, OutcomeUnknown) or is_transient(exc):
            raise
        found = _refused_but_applied(client, command, _offer_invalidated)
        if found is None:
            raise
        return found
    return {"offer_id": p["offer_id"], "status": "INVALIDATED"}


def offer_invalidated(command, result: dict) -> None:
    offer = _offer(command)
    if offer is None:
        return
    if offer.status == DedicatedOffer.Status.ACTIVE:
        offer.mark_invalidated()
    elif offer.status == DedicatedOffer.Status.EXPIRED:
        # The expiry task got there first, but the upstream confirmed the invalidation: that is what it is.
        DedicatedOffer.objects.filter(pk=offer.pk).update(
            status=DedicatedOffer.Status.INVALIDATED, updated_at=timezone.now()
        )


def offer_invalidate_failed(command, error: Exception) -> None:
    offer = _offer(command)
    message = getattr(error, "message", None) or str(error)
    if offer is not None and offer.is_invalidating:
        offer.invalidation_refused(message)
        audit.record(
            "dedicated_offer_push_failed",
            partner=offer.partner,
            target=offer,
            target_label=offer.name,
            summary=f"{offer.name}: {message}"[:200],
            data={"error": message},
        )


SET_DISCOUNT = register_handler(
    Handler(
        kind=services.SET_DISCOUNT,
        send=send_set_discount,
        on_success=discount_success,
        on_failure=discount_failure,
        reconcile=_discount_applied,
    )
)
CREATE_OFFER = register_handler(
    Handler(
        kind=services.CREATE_OFFER,
        send=send_create_offer,
        on_success=offer_created,
        on_failure=offer_create_failed,
        reconcile=_offer_created,
    )
)
INVALIDATE_OFFER = register_handler(
    Handler(
        kind=services.INVALIDATE_OFFER,
        send=send_invalidate_offer,
        on_success=offer_invalidated,
        on_failure=offer_invalidate_failed,
        reconcile=_offer_invalidated,
    )
)
