"""Outbox handlers of the customers app: pushing a warning's handling result upstream."""

from __future__ import annotations

from customers import services
from upstream.outbox import Handler, register_handler


def send_handle_warning(client, command) -> dict:
    payload = command.payload
    client.handle_customer_warning(
        payload["warning_id"],
        payload["result"],
        remark=payload.get("remark") or None,
        indirect_partner_id=payload.get("indirect_partner_id"),
    )
    return {"warning_id": payload["warning_id"], "result": payload["result"]}


def on_success(command, result: dict) -> None:
    if command.object_id:
        services.apply_push_success(int(command.object_id))


def on_failure(command, error: Exception) -> None:
    if command.object_id:
        services.apply_push_failure(int(command.object_id), str(error))


HANDLE_WARNING = register_handler(
    Handler(
        kind=services.HANDLE_WARNING, send=send_handle_warning, on_success=on_success, on_failure=on_failure
    )
)
