"""Outbox handlers of the customers app: pushing a warning's handling result upstream.

Handling a warning is not idempotent upstream (a second call is refused: "already handled"), so the outcome
is read back from the upstream before anything is resent or marked failed: a warning the upstream already
shows handled with the result we asked for is a success, whoever's call got it there.
"""

from __future__ import annotations

from datetime import timedelta

from customers import services
from customers.models import CustomerWarning
from upstream.errors import OutcomeUnknown, UpstreamError
from upstream.outbox import Handler, is_transient, register_handler

HANDLED = "HANDLED"


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
        if isinstance(exc, OutcomeUnknown) or is_transient(exc):
            raise
        found = _applied(client, command)
        if found is None:
            raise
        return found
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
