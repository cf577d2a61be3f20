"""The transactional outbox: portal actions that must reach the upstream.

A service writes its domain change and calls `enqueue()` in the same transaction; after commit a Celery
task sends the command. Apps register one handler per command kind with `register_handler()`.

(API fixed; the sending machinery is being completed.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import models

from upstream.models import OutboxCommand


@dataclass(frozen=True)
class Handler:
    """How one kind of command is sent and how its outcome is applied to the domain.

    send(client, command) -> dict: call the upstream; the dict is stored as command.result.
    on_success(command, result): apply the result to the domain objects (same transaction as the status).
    on_failure(command, error): mark the domain object failed with the upstream's message.
    reconcile(client, command) -> dict | None: after an unknown outcome, look the change up upstream;
        a dict means it was applied (the result), None means it was not and may be sent again.
    """

    kind: str
    send: Callable[[Any, OutboxCommand], dict]
    on_success: Callable[[OutboxCommand, dict], None] | None = None
    on_failure: Callable[[OutboxCommand, Exception], None] | None = None
    reconcile: Callable[[Any, OutboxCommand], dict | None] | None = None
    serial: bool = False  # one command of this kind in flight per partner (money moves)


HANDLERS: dict[str, Handler] = {}


def register_handler(handler: Handler) -> Handler:
    HANDLERS[handler.kind] = handler
    return handler


def enqueue(kind: str, payload: dict, *, partner_key: str, obj: models.Model | None = None) -> OutboxCommand:
    """Write a command to send; call inside the transaction that makes the domain change."""
    if kind not in HANDLERS:
        raise LookupError(f"No outbox handler registered for {kind!r}.")
    return OutboxCommand.objects.create(
        kind=kind,
        payload=payload,
        partner_key=partner_key,
        serial=HANDLERS[kind].serial,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
    )
