"""Outbox handlers of the customers app: pushing a warning's handling result upstream.

Handling a warning is not idempotent upstream (a second call is refused: "already handled"), so the outcome
is read back from the upstream before anything is resent or marked failed: a warning the upstream already
shows handled with the result we asked for is a success, whoever's call got it there.
"""

from __future__ import annotations

from datetime import timedelta

from customers import invitations, onboarding, payments, realname, services
from customers.models import CustomerWarning
from customers.orders import OrderStatus
from upstream.errors import OutcomeUnknown, UpstreamError
from upstream.outbox import Handler, is_transient, register_handler

HANDLED = "HANDLED"


def applied_despite_refusal(error: UpstreamError, applied, client, command) -> dict:
    """After the upstream refused a command: its result when the upstream already shows the change (an
    earlier send that timed out made it), else the refusal again. Unknown outcomes and transient errors are
    the outbox's to handle (reconcile, retry), never read here."""
    if isinstance(error, OutcomeUnknown) or is_transient(error):
        raise error
    found = applied(client, command)
    if found is None:
        raise error
    return found


def upstream_warning(client, command):
    """The warning as the upstream shows it now, or None if it cannot be found.

    The contract has no warning-id filter: list the customer's warnings around the warning's send time (the
    mirrored row says both) and pick it by id.
    """
    payload = command.payload
    local = (
        CustomerWarning.objects.filter(warning_id=payload["warning_id"])
        .values("customer_upstream_id", "send_time")
        .first()
    )
    filters = {}
    if local is not None:
        filters["customer_id"] = local["customer_upstream_id"] or None
        if local["send_time"] is not None:
            filters["send_time_begin"] = local["send_time"] - timedelta(seconds=1)
            filters["send_time_end"] = local["send_time"] + timedelta(seconds=1)
    for warning in client.iter_all(
        client.list_customer_warnings, indirect_partner_id=payload.get("indirect_partner_id"), **filters
    ):
        if warning.warning_id == payload["warning_id"]:
            return warning
    return None


def _applied(client, command) -> dict | None:
    """The result, when the upstream already shows the warning handled as this command asks; else None."""
    warning = upstream_warning(client, command)
    if (
        warning is not None
        and warning.status == HANDLED
        and warning.handle_result == command.payload["result"]
    ):
        return {"warning_id": warning.warning_id, "result": warning.handle_result, "reconciled": True}
    return None


def send_handle_warning(client, command) -> dict:
    payload = command.payload
    try:
        client.handle_customer_warning(
            payload["warning_id"],
            payload["result"],
            remark=payload.get("remark") or None,
            indirect_partner_id=payload.get("indirect_partner_id"),
        )
    except UpstreamError as exc:
        # Refused ("already handled"?): if the upstream is already in the requested state, that is success.
        return applied_despite_refusal(exc, _applied, client, command)
    return {"warning_id": payload["warning_id"], "result": payload["result"]}


def reconcile_handle_warning(client, command) -> dict | None:
    """After an unknown outcome: handled upstream with our result → success; still pending → send again.

    Handled upstream with another result (someone used the platform's console meanwhile): not ours, and
    a resend is refused, which marks the portal's handling failed with the upstream's message.
    """
    return _applied(client, command)


def on_success(command, result: dict) -> None:
    if command.object_id:
        services.apply_push_success(int(command.object_id))


def on_failure(command, error: Exception) -> None:
    if command.object_id:
        services.apply_push_failure(int(command.object_id), str(error))


HANDLE_WARNING = register_handler(
    Handler(
        kind=services.HANDLE_WARNING,
        send=send_handle_warning,
        on_success=on_success,
        on_failure=on_failure,
        reconcile=reconcile_handle_warning,
    )
)


# --- ApplyAssociationChange ---------------------------------------------------------------------------------
# Not idempotent upstream either: a second call for a switch already made is refused ("already a referral
# customer"), one for a customer already gone names no customer. So the outcome is read back before anything
# is resent or failed: the platform's association records since the send (the record of this change), else
# the customer's own state (already of the requested type, or no longer associated) = applied.

_OPERATION = {"DISASSOCIATE": "DISASSOCIATE", "SWITCH_TO_REFERRAL": "SWITCH", "SWITCH_TO_RESALE": "SWITCH"}
_TARGET_TYPE = {"SWITCH_TO_REFERRAL": "1", "SWITCH_TO_RESALE": "2"}


def _association_applied(client, command) -> dict | None:
    """The result, when the upstream already shows the change this command asks for; else None."""
    from upstream.outbox import reconcile_since

    payload = command.payload
    change, customer_id = payload["change"], payload["customer_id"]
    target = _TARGET_TYPE.get(change)
    indirect = payload.get("indirect_partner_id")
    for record in client.iter_all(
        client.list_association_records,
        customer_id=customer_id,
        operation_type=_OPERATION[change],
        operation_time_begin=reconcile_since(command),
        indirect_partner_id=indirect,
    ):
        if record.customer_id == customer_id and (target is None or record.association_type == target):
            return {"record_id": record.record_id, "reconciled": True}
    page = client.list_sub_customers(customer_id=customer_id, indirect_partner_id=indirect, limit=1)
    current = next((c for c in page.items if c.customer_id == customer_id), None)
    if target is None and current is None:
        return {"record_id": "", "reconciled": True}  # no longer associated: ended
    if target is not None and current is not None and current.association_type == target:
        return {"record_id": "", "reconciled": True}  # already of the requested type
    return None


def send_apply_association_change(client, command) -> dict:
    payload = command.payload
    try:
        change = client.apply_association_change(
            payload["customer_id"],
            payload["change"],
            reason=payload["reason"],
            customer_confirmed_at=payload["customer_confirmed_at"],
            indirect_partner_id=payload.get("indirect_partner_id"),
        )
    except UpstreamError as exc:
        return applied_despite_refusal(exc, _association_applied, client, command)
    return {"record_id": change.record_id}


def association_applied(command, result: dict) -> None:
    if command.object_id:
        services.apply_change_succeeded(int(command.object_id), result.get("record_id") or "")


def association_failed(command, error: Exception) -> None:
    if command.object_id:
        services.apply_change_failed(int(command.object_id), str(error))


APPLY_ASSOCIATION_CHANGE = register_handler(
    Handler(
        kind=services.APPLY_ASSOCIATION_CHANGE,
        send=send_apply_association_change,
        on_success=association_applied,
        on_failure=association_failed,
        reconcile=_association_applied,
    )
)


# --- partner payment (issue 12) -----------------------------------------------------------------------------
# PayOrders has no idempotency key and a second call is refused ("not awaiting payment"), so the outcome is
# read back before anything is resent or failed: the order paid upstream (status 5) is a paid order, whoever's
# call got it there; for a rejection, the order awaiting the customer's own payment.


def _upstream_order(client, command):
    """The order as the upstream lists it now (with its agent_pay_info), or None."""
    payload = command.payload
    page = client.list_customer_orders(
        order_id=payload["order_id"],
        customer_id=payload.get("customer_id") or None,
        indirect_partner_id=payload.get("indirect_partner_id"),
        limit=10,
    )
    return next((o for o in page.items if o.order_id == payload["order_id"]), None)


def _payment_applied(client, command) -> dict | None:
    """The result, when the upstream already shows the order paid (or handed back) as asked; else None."""
    order = _upstream_order(client, command)
    if order is None:
        return None
    if command.kind == payments.PAY_ORDER:
        done = order.status == OrderStatus.COMPLETED
    else:
        done = order.status == OrderStatus.AWAITING_PAYMENT and not order.is_agent_pay
    return {"order_id": order.order_id, "status": order.status, "reconciled": True} if done else None


def send_partner_payment(client, command) -> dict:
    payload = command.payload
    try:
        if command.kind == payments.PAY_ORDER:
            client.pay_order(payload["order_id"], indirect_partner_id=payload.get("indirect_partner_id"))
        else:
            client.reject_partner_pay_order(
                payload["order_id"],
                reason=payload.get("reason") or None,
                indirect_partner_id=payload.get("indirect_partner_id"),
            )
    except UpstreamError as exc:
        # Refused ("not awaiting payment"): an earlier send that timed out may have paid it. That is success.
        return applied_despite_refusal(exc, _payment_applied, client, command)
    return {"order_id": payload["order_id"]}


def payment_done(command, result: dict) -> None:
    if command.object_id:
        payments.payment_succeeded(int(command.object_id))


def payment_refused(command, error: Exception) -> None:
    if command.object_id:
        payments.payment_failed(int(command.object_id), str(getattr(error, "message", None) or error))


PAY_ORDER = register_handler(
    Handler(
        kind=payments.PAY_ORDER,
        send=send_partner_payment,
        on_success=payment_done,
        on_failure=payment_refused,
        reconcile=_payment_applied,
        serial=True,  # money leaves the partner's balance: one at a time with its other money commands
    )
)
REJECT_PARTNER_PAY_ORDER = register_handler(
    Handler(
        kind=payments.REJECT_PARTNER_PAY_ORDER,
        send=send_partner_payment,
        on_success=payment_done,
        on_failure=payment_refused,
        reconcile=_payment_applied,
    )
)


# --- customer onboarding (issue 14): CreateSubCustomer, reconciled by the account name the portal chose -----

CREATE_SUB_CUSTOMER = register_handler(
    Handler(
        kind=onboarding.CREATE_SUB_CUSTOMER,
        send=onboarding.send_create_sub_customer,
        on_success=onboarding.on_created,
        on_failure=onboarding.on_refused,
        reconcile=onboarding._created_upstream,
    )
)
SUBMIT_REALNAME = register_handler(
    Handler(
        kind=realname.SUBMIT_REALNAME,
        send=realname.send_realname,
        on_success=realname.on_sent,
        on_failure=realname.on_refused,
        reconcile=realname._arrived,
    )
)


# --- inviting an existing customer (issue 14): AcceptPartnerInvitation, reconciled by the account name ------

ACCEPT_INVITATION = register_handler(
    Handler(
        kind=invitations.ACCEPT_INVITATION,
        send=invitations.send_accept_invitation,
        on_success=invitations.on_associated,
        on_failure=invitations.on_refused,
        reconcile=invitations._associated_upstream,
    )
)
