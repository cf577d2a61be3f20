"""Outbox handlers of the billing app: allocations and reclaims pushed to the upstream.

The upstream's allocate/reclaim APIs take no idempotency key, so every kind here is serial (one in flight per
partner whose money moves) and, for customers, reconciles an unknown outcome against the adjust records
before anything is sent again.

Reseller adjustments (distributor ↔ reseller) have no adjust-records filter in the contract, so their
unknown outcome cannot be checked automatically: the command stays `unknown`, with a last_error that says
so, until an operator checks the upstream and resends or closes it in the admin site.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F
from django.utils import timezone

from billing import services
from billing.models import Adjustment, AdjustRecord, CustomerAccount, PartnerAccount
from upstream.outbox import Handler, reconcile_since, register_handler
from upstream.types import AdjustRecord as UpstreamAdjustRecord


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
    """Keep the mirrored balances in step until the next balance sync overwrites them with the upstream's."""
    sign = -1 if adjustment.kind == Adjustment.Kind.ALLOCATE else 1
    delta = adjustment.amount * sign
    now = timezone.now()
    PartnerAccount.objects.filter(
        partner=adjustment.partner, account_type=PartnerAccount.AccountType.BALANCE
    ).update(amount=F("amount") + delta, updated_at=now)
    if adjustment.customer_id:
        CustomerAccount.objects.filter(customer=adjustment.customer).update(
            amount=F("amount") - delta, updated_at=now
        )
    else:
        PartnerAccount.objects.filter(
            partner=adjustment.reseller, account_type=PartnerAccount.AccountType.BALANCE
        ).update(amount=F("amount") - delta, updated_at=now)


def on_success(command, result: dict) -> None:
    adjustment = _adjustment(command, lock=True)
    adjustment.mark_succeeded(result["transaction_id"])
    _move_balances(adjustment)


def on_failure(command, error: Exception) -> None:
    adjustment = _adjustment(command, lock=True)
    adjustment.mark_failed(getattr(error, "message", None) or str(error))


# --- reconcile ----------------------------------------------------------------------------------------------


def reconcile_customer(client, command) -> dict | None:
    """Find the transfer in the adjust records: same customer, type and amount, since the send, not claimed.

    With one adjustment in flight per partner, the only record of that amount that no other adjustment has
    claimed as its transaction is this one's. Records the balance sync had already mirrored before the send
    existed before it, so they are not this one's either (e.g. a transfer made in the partner console).
    """
    p = command.payload
    adjustment = _adjustment(command)
    operation_type = (
        UpstreamAdjustRecord.ALLOCATE
        if adjustment.kind == Adjustment.Kind.ALLOCATE
        else UpstreamAdjustRecord.RECLAIM
    )
    amount = Decimal(p["amount"])
    records = [
        r
        for r in client.iter_all(
            client.list_adjust_records,
            customer_id=p["customer_id"],
            operation_type=operation_type,
            operation_time_begin=reconcile_since(command),
            indirect_partner_id=p["indirect_partner_id"],
        )
        if r.amount == amount and r.trans_id
    ]
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
    )
)
# No reconcile: the contract has no adjust-records filter for reseller transfers (see the module docstring).
ALLOCATE_RESELLER = register_handler(
    Handler(
        kind=services.ALLOCATE_RESELLER,
        send=send_allocate_reseller,
        on_success=on_success,
        on_failure=on_failure,
        serial=True,
    )
)
RECLAIM_RESELLER = register_handler(
    Handler(
        kind=services.RECLAIM_RESELLER,
        send=send_reclaim_reseller,
        on_success=on_success,
        on_failure=on_failure,
        serial=True,
    )
)
