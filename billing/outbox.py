"""Outbox handlers of the billing app: allocations and reclaims pushed to the upstream.

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

from billing import services
from billing.models import Adjustment, AdjustRecord, CustomerAccount, PartnerAccount
from customers.models import Customer
from portal.lib.money import parse_money
from upstream.outbox import Handler, reconcile_since, register_handler
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
        Customer.objects.filter(pk=adjustment.customer_id).refresh_balances()
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
