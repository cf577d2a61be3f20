"""The transactional outbox: portal actions that must reach the upstream.

A service writes its domain change and calls `enqueue()` in the same transaction; after commit a Celery
task (`upstream.drain_outbox`) sends the command, and a beat entry drains every 30 s, so a command written
while Redis, the worker or the upstream was down is sent when they return. Apps register one handler per
command kind with `register_handler()`.

A command's life (OutboxCommand.status):

    pending ──claim──▶ sending ──answer──▶ succeeded                      (on_success, same transaction)
       ▲                  │ ├──business error──▶ failed                  (on_failure)
       │                  │ ├──transient error──▶ pending, later (backoff + jitter)
       │                  │ └──no answer (OutcomeUnknown)──▶ unknown
       │                  └──lease expired (worker died mid-send)──▶ unknown
       │                                                       │
       └──────reconcile: not applied upstream (resend)─────────┤ reconcile, once the read timeout has
                                     succeeded ◀──applied──────┘ certainly passed since sent_at

After OUTBOX_MAX_ATTEMPTS sends a command that is still not through fails for good (on_failure); an
`unknown` command is never failed nor resent without reconciling first.

Serial kinds (money) go one at a time per partner_key, in the order they were written: a serial command is
sent only when no other serial command of its partner is `sending` or `unknown` and no older one is still
`pending`. That keeps the upstream's adjust records unambiguous for reconciliation (the allocate/reclaim API
has no idempotency key). Non-serial commands are never held back.

Reconciling: every kind the portal registers has `handler.reconcile(client, command)`, which reads the
upstream's state and returns the result when the change is found there ("already in the requested state" is
success), None when it is not (safe to resend). When that read cannot prove absence
(`reconcile_proves_absence=False`, reseller transfers), a command not found stays `unknown`, is looked up
again every UNPROVEN_RECHECK, and needs a person to resend it or mark it applied (admin actions).
A kind without `reconcile`:
- non-serial: taken as idempotent: an unknown outcome is resent;
- serial: cannot be checked, so it needs a person: the command stays `unknown` (and holds back its partner's
  next serial commands) with a clear last_error, until an operator acts in the admin site.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, Min, OuterRef, Q
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from upstream.errors import (
    AuthenticationFailed,
    OutcomeUnknown,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from upstream.models import OutboxCommand

logger = logging.getLogger(__name__)

Status = OutboxCommand.Status

# Waits longer than this are left to the periodic drain (every 30 s) instead of a scheduled follow-up.
FOLLOWUP_HORIZON = timedelta(minutes=10)
# How often an unknown command whose look-up cannot prove absence is looked up again (until a person acts).
UNPROVEN_RECHECK = timedelta(minutes=5)


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
    # False when `reconcile` finding nothing does not prove the change was not applied (a read that may miss
    # it): such a command is closed when found, else waits for a person, looked up again now and then.
    reconcile_proves_absence: bool = True
    # Result keys an operator must give when marking an unknown command applied (e.g. "transaction_id").
    operator_result: tuple[str, ...] = ()


HANDLERS: dict[str, Handler] = {}


def register_handler(handler: Handler) -> Handler:
    HANDLERS[handler.kind] = handler
    return handler


# How long "a drain is queued or running" holds at most without being renewed (the queued task lost, the
# worker killed: the next command queues another). A running drain renews it with every command.
QUEUED_MARK_SECONDS = 30


def enqueue(kind: str, payload: dict, *, partner_key: str, obj: models.Model | None = None) -> OutboxCommand:
    """Write a command to send; call inside the transaction that makes the domain change."""
    if kind not in HANDLERS:
        raise LookupError(f"No outbox handler registered for {kind!r}.")
    command = OutboxCommand.objects.create(
        kind=kind,
        payload=payload,
        partner_key=partner_key,
        serial=HANDLERS[kind].serial,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
    )
    # Robust: the domain change is committed whatever happens to the broker; the beat drain is the backstop.
    transaction.on_commit(partial(schedule_drain, partner_key), robust=True)
    return command


def commands_for(obj: models.Model):
    """The commands written for one domain object, oldest first (other apps ask here, not by label)."""
    return OutboxCommand.objects.for_object(obj)


# --- settings (their defaults live in portal/settings.py only) --------------------------------------------


def max_attempts() -> int:
    return settings.OUTBOX_MAX_ATTEMPTS


def sending_lease() -> timedelta:
    """How long a send may take before its worker is taken as dead; always well above the read timeout."""
    seconds = float(settings.OUTBOX_SENDING_LEASE_SECONDS)
    return timedelta(seconds=max(seconds, 2 * _read_timeout() + 1))


def reconcile_delay() -> timedelta:
    """After an unknown outcome, wait out the read timeout (and a grace) before looking the change up."""
    grace = float(settings.OUTBOX_RECONCILE_GRACE_SECONDS)
    return timedelta(seconds=_read_timeout() + grace)


def reconcile_since(command: OutboxCommand) -> datetime:
    """Where a reconcile looks from: the last send, minus a margin for the upstream's clock."""
    skew = float(settings.OUTBOX_RECONCILE_SKEW_SECONDS)
    sent_at = command.sent_at or command.created_at
    return sent_at - timedelta(seconds=skew)


def _read_timeout() -> float:
    return float(settings.UPSTREAM_READ_TIMEOUT)


def backoff(attempts: int, error: Exception | None = None) -> timedelta:
    """Exponential backoff with jitter after a transient error; a server's Retry-After is honoured."""
    base = float(settings.OUTBOX_BACKOFF_SECONDS)
    cap = float(settings.OUTBOX_BACKOFF_MAX_SECONDS)
    delay = min(cap, base * 2 ** max(attempts - 1, 0))
    delay += random.uniform(0, delay / 2)
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        delay = max(delay, float(retry_after))
    return timedelta(seconds=delay)


# --- errors ---------------------------------------------------------------------------------------------


class GaveUp(UpstreamError):
    """A command that did not get through after the allowed number of attempts."""

    default_message = _("The cloud platform did not take the change after several attempts.")


def is_transient(error: Exception) -> bool:
    """Errors that say "nothing was changed, try again later" (never OutcomeUnknown)."""
    if isinstance(error, OutcomeUnknown):
        return False
    # A rejected signature is the deployment's problem (keys, clock), not this command's: keep it.
    return isinstance(error, RateLimited | UpstreamUnavailable | AuthenticationFailed)


def _gave_up(attempts: int, last: Exception | None) -> GaveUp:
    detail = getattr(last, "message", None) or (str(last) if last else "")
    if detail:
        message = format_lazy(
            _("The cloud platform did not take the change after {attempts} attempts: {detail}"),
            attempts=attempts,
            detail=detail,
        )
    else:
        message = format_lazy(
            _("The cloud platform did not take the change after {attempts} attempts."), attempts=attempts
        )
    return GaveUp(message, error_code=getattr(last, "error_code", None))


# --- scheduling -----------------------------------------------------------------------------------------


def _queued_key(partner_key: str | None) -> str:
    return f"outbox:drain-queued:{partner_key or '*'}"


def schedule_drain(partner_key: str | None = None, *, countdown: float | None = None) -> None:
    """Ask a worker to drain (a partner's) outbox; a broker that is down is logged, not raised.

    A drain asked for now is queued once while one is queued or running (the mark): a burst of 500
    allocations queues one drain, which sends them all, rather than one drain per commit that each find the
    partner's line busy, start a client and race the running drain for the next command. The running drain
    clears the mark when it finds nothing more to send and then looks once more (see drain()), so a command
    committed after that look queues a drain of its own and none waits for the periodic drain; the mark
    expires by itself should the queued task be lost or its worker die.
    """
    from django.core.cache import cache

    from upstream.tasks import drain_outbox

    if countdown is None:
        try:
            if not cache.add(_queued_key(partner_key), 1, timeout=QUEUED_MARK_SECONDS):
                return
        except Exception:
            logger.warning("outbox: cache unavailable; queueing the drain anyway", exc_info=True)
    try:
        drain_outbox.apply_async(args=[partner_key], countdown=countdown)
    except Exception:
        logger.warning(
            "outbox: could not queue a drain (broker down?); the periodic drain will send it", exc_info=True
        )
        if countdown is None:
            release_mark(partner_key)  # nothing is queued: let the next command try again


def hold_mark(partner_key: str | None) -> None:
    """A drain of this scope is running: commands committed meanwhile need no drain of their own."""
    from django.core.cache import cache

    try:
        cache.set(_queued_key(partner_key), 1, timeout=QUEUED_MARK_SECONDS)
    except Exception:
        logger.warning("outbox: cache unavailable", exc_info=True)


def release_mark(partner_key: str | None) -> None:
    """No drain of this scope will look again: commands committed from now on queue a drain of their own."""
    from django.core.cache import cache

    try:
        cache.delete(_queued_key(partner_key))
    except Exception:
        logger.warning("outbox: cache unavailable", exc_info=True)


def _schedule_followup(partner_key: str | None, when: datetime) -> None:
    """One drain at `when` for this scope (at most one per second), for commands waiting on a backoff."""
    from django.core.cache import cache

    countdown = max(0.0, (when - timezone.now()).total_seconds()) + 0.05
    key = f"outbox:followup:{partner_key or '*'}:{int(when.timestamp())}"
    try:
        if not cache.add(key, 1, timeout=int(countdown) + 5):
            return
    except Exception:
        logger.warning("outbox: cache unavailable; scheduling a follow-up drain anyway", exc_info=True)
    schedule_drain(partner_key, countdown=countdown)


# --- the drain ------------------------------------------------------------------------------------------


@dataclass
class DrainReport:
    """What one drain did (for logs and tests)."""

    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    recovered: int = 0  # `sending` past the lease, become `unknown`
    reconciled_found: int = 0
    reconciled_missing: int = 0  # not applied upstream: sent again
    waiting: int = 0  # serial commands that need a person

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _LazyClient:
    """The upstream client, made on first use and closed at the end of a drain."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._own = client is None

    def get(self) -> Any:
        if self._client is None:
            from upstream.client import UpstreamClient

            self._client = UpstreamClient.from_settings()
        return self._client

    def close(self) -> None:
        if self._own and self._client is not None:
            self._client.close()
            self._client = None


def drain(
    partner_key: str | None = None,
    *,
    client: Any = None,
    max_commands: int | None = None,
    time_budget: float | None = None,
) -> DrainReport:
    """Send every due command (of one partner, or all), one at a time; returns what was done."""
    report = DrainReport()
    report.recovered = recover_stale(partner_key)
    budget = time_budget if time_budget is not None else float(settings.OUTBOX_DRAIN_SECONDS)
    deadline = time.monotonic() + budget
    lazy = _LazyClient(client)
    processed = 0
    out_of_time = False
    released = False
    try:
        while max_commands is None or processed < max_commands:
            if time.monotonic() > deadline:
                out_of_time = True
                break
            hold_mark(partner_key)
            claimed = _claim_next(partner_key)
            if claimed is None:
                # Nothing to send: from now on a new command queues a drain of its own; one committed before
                # the mark was cleared queued none (the mark said this drain runs), so look once more.
                release_mark(partner_key)
                released = True
                claimed = _claim_next(partner_key)
                if claimed is None:
                    break
                released = False
            command, action = claimed
            processed += 1
            if action == "send":
                _send(lazy, command, report)
            else:
                _reconcile(lazy, command, report)
    finally:
        lazy.close()
        if not released:
            release_mark(partner_key)
    if out_of_time:
        schedule_drain(partner_key)
    else:
        _follow_up(partner_key)
    if processed or report.recovered:
        logger.info("outbox drain %s: %s", partner_key or "(all)", report.as_dict())
    return report


def recover_stale(partner_key: str | None = None) -> int:
    """Commands `sending` for longer than the lease (their worker died): their outcome is unknown."""
    commands = OutboxCommand.objects.all()
    if partner_key:
        commands = commands.filter(partner_key=partner_key)
    count = commands.mark_abandoned(
        before=timezone.now() - sending_lease(),
        message="The send did not finish (worker stopped?): the outcome is unknown; checking upstream.",
    )
    if count:
        logger.warning("outbox: %d command(s) stuck in sending are now unknown", count)
    return count


def _needs_person(kind: str, serial: bool) -> bool:
    """An unknown outcome of this kind cannot be settled automatically when the change is not applied."""
    handler = HANDLERS.get(kind)
    return serial and (handler is None or handler.reconcile is None or not handler.reconcile_proves_absence)


def _can_check(kind: str) -> bool:
    handler = HANDLERS.get(kind)
    return handler is not None and handler.reconcile is not None


def _eligible(queryset):
    """Commands that may go now: non-serial ones, and the head of each partner's serial line."""
    others = OutboxCommand.objects.filter(serial=True, partner_key=OuterRef("partner_key")).exclude(
        pk=OuterRef("pk")
    )
    return queryset.annotate(
        other_sending=Exists(others.filter(status=Status.SENDING)),
        other_unknown=Exists(others.filter(status=Status.UNKNOWN)),
        older_pending=Exists(others.filter(status=Status.PENDING, pk__lt=OuterRef("pk"))),
        older_unknown=Exists(others.filter(status=Status.UNKNOWN, pk__lt=OuterRef("pk"))),
    ).filter(
        Q(serial=False)
        | Q(
            Q(other_sending=False)
            & (
                Q(status=Status.PENDING, other_unknown=False, older_pending=False)
                | Q(status=Status.UNKNOWN, older_unknown=False)
            )
        )
    )


def _due(partner_key: str | None, now: datetime):
    kinds = list(HANDLERS)
    reconcilable = [k for k, h in HANDLERS.items() if h.reconcile is not None]
    queryset = OutboxCommand.objects.filter(
        status__in=(Status.PENDING, Status.UNKNOWN), next_attempt_at__lte=now, kind__in=kinds
    ).exclude(Q(status=Status.UNKNOWN, serial=True) & ~Q(kind__in=reconcilable))
    if partner_key:
        queryset = queryset.filter(partner_key=partner_key)
    return queryset


def _claim_next(partner_key: str | None) -> tuple[OutboxCommand, str] | None:
    """Claim one due command (row lock, skip locked): pending → sending, or an unknown one to reconcile."""
    now = timezone.now()
    with transaction.atomic():
        command = (
            _eligible(_due(partner_key, now))
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("id")
            .first()
        )
        if command is None:
            return None
        if command.status == Status.PENDING:
            command.mark_sending(lease_until=now + sending_lease())
            return command, "send"
        # Unknown: lease it for the look-up so that no other worker reconciles it at the same time.
        command.next_attempt_at = now + sending_lease()
        command.save(update_fields=["next_attempt_at"])
        return command, "reconcile"


def _send(lazy: _LazyClient, command: OutboxCommand, report: DrainReport) -> None:
    """Call the handler's send outside any transaction and record the outcome."""
    handler = HANDLERS[command.kind]
    report.sent += 1
    logger.info("outbox: sending %s (attempt %d)", command, command.attempts)
    try:
        result = handler.send(lazy.get(), command)
    except OutcomeUnknown as exc:
        _mark_unknown(command, exc, report)
    except UpstreamError as exc:
        if is_transient(exc):
            _retry_later(command, exc, report)
        else:
            _fail(command, exc, report)
    except Exception as exc:
        # A bug, or anything else after which nobody knows whether the request went out: never resend blindly.
        logger.exception("outbox: %s raised unexpectedly", command)
        _mark_unknown(command, exc, report)
    else:
        _succeed(command, result, report)


def _reconcile(lazy: _LazyClient, command: OutboxCommand, report: DrainReport) -> None:
    handler = HANDLERS[command.kind]
    if handler.reconcile is None:  # non-serial kinds without a look-up are resent (idempotent)
        found = None
    else:
        try:
            found = handler.reconcile(lazy.get(), command)
        except Exception as exc:
            if not isinstance(exc, UpstreamError):
                logger.exception("outbox: reconciling %s raised unexpectedly", command)
            message = f"Could not check the outcome upstream yet: {exc}"
            _update_if(command, (Status.UNKNOWN,), last_error=message, next_attempt_at=_later(command, exc))
            report.unknown += 1
            return
    if found is not None:
        logger.info("outbox: reconciled %s: applied upstream (%s)", command, found)
        report.reconciled_found += 1
        _succeed(command, found, report)
        return
    report.reconciled_missing += 1
    if not handler.reconcile_proves_absence:
        report.waiting += 1
        logger.error("outbox: %s not found upstream, which proves nothing; needs a person", command)
        _update_if(
            command,
            (Status.UNKNOWN,),
            next_attempt_at=timezone.now() + UNPROVEN_RECHECK,
            last_error=(
                "Not found in the upstream's records (yet), which does not prove it was not applied: "
                "a person must check the upstream, then mark it applied or resend it in the admin site. "
                "The partner's next money commands wait until then; it is looked up again meanwhile."
            ),
        )
        return
    if command.attempts >= max_attempts():
        logger.warning("outbox: reconciled %s: not applied, and out of attempts", command)
        _fail(command, _gave_up(command.attempts, _LastError(command.last_error)), report)
        return
    logger.info("outbox: reconciled %s: not applied upstream; sending again", command)
    _transition(
        command,
        (Status.UNKNOWN,),
        lambda row: row.mark_retry(
            at=timezone.now(),
            error=f"{row.last_error}\nChecked upstream: not applied; sending again.".strip(),
        ),
    )


class _LastError(Exception):
    """The last error text of a command, as an exception for _gave_up."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.message = text.strip().splitlines()[0] if text.strip() else ""


def _later(command: OutboxCommand, error: Exception | None = None) -> datetime:
    return timezone.now() + backoff(max(command.attempts, 1), error)


def _update_if(command: OutboxCommand, statuses: tuple[str, ...], **changes: Any) -> bool:
    """Change fields other than the status, only if the command is still as this worker left it."""
    assert "status" not in changes, "status changes go through OutboxCommand.mark_*"
    updated = OutboxCommand.objects.filter(
        pk=command.pk, status__in=statuses, attempts=command.attempts
    ).update(**changes)
    if not updated:
        logger.warning("outbox: %s changed under this worker; left as it is", command)
    return bool(updated)


def _locked_if_current(
    command: OutboxCommand, statuses: tuple[str, ...] = (Status.SENDING, Status.UNKNOWN)
) -> OutboxCommand | None:
    """The command's row, locked, if it is still as this worker left it (status and attempts); else None."""
    row = OutboxCommand.objects.select_for_update().get(pk=command.pk)
    if row.status not in statuses or row.attempts != command.attempts:
        logger.warning("outbox: %s changed under this worker (now %s); left as it is", command, row.status)
        return None
    return row


def _transition(
    command: OutboxCommand, statuses: tuple[str, ...], move: Callable[[OutboxCommand], None]
) -> bool:
    """Apply one `mark_*` move to the command's locked row if it is still as this worker left it."""
    with transaction.atomic():
        row = _locked_if_current(command, statuses)
        if row is None:
            return False
        move(row)
    return True


def _succeed(command: OutboxCommand, result: Any, report: DrainReport) -> None:
    handler = HANDLERS[command.kind]
    try:
        with transaction.atomic():
            row = _locked_if_current(command)
            if row is None:
                return
            row.mark_succeeded(result if isinstance(result, dict) else {"value": result})
            if handler.on_success is not None:
                handler.on_success(row, row.result)
    except Exception as exc:
        # The upstream took it but the portal could not record it: leave it `sending`; once the lease is
        # over it is reconciled (found) and on_success runs again.
        logger.exception("outbox: %s succeeded upstream but applying the result failed", command)
        OutboxCommand.objects.filter(pk=command.pk).update(
            last_error=f"Succeeded upstream ({result}) but applying it failed: {exc!r}"
        )
        return
    report.succeeded += 1
    logger.info("outbox: %s succeeded", command)


def _fail(command: OutboxCommand, error: Exception, report: DrainReport) -> None:
    handler = HANDLERS[command.kind]
    with transaction.atomic():
        row = _locked_if_current(command)
        if row is None:
            return
        row.mark_failed(str(error))
        if handler.on_failure is not None:
            handler.on_failure(row, error)
    report.failed += 1
    logger.warning("outbox: %s failed: %s", command, error)


def _retry_later(command: OutboxCommand, error: UpstreamError, report: DrainReport) -> None:
    if command.attempts >= max_attempts():
        _fail(command, _gave_up(command.attempts, error), report)
        return
    when = _later(command, error)
    _transition(command, (Status.SENDING,), lambda row: row.mark_retry(at=when, error=str(error)))
    report.retried += 1
    logger.info("outbox: %s will be retried at %s: %s", command, when, error)


def _mark_unknown(command: OutboxCommand, error: Exception, report: DrainReport) -> None:
    report.unknown += 1
    if command.serial and not _can_check(command.kind):
        report.waiting += 1
        message = (
            f"{error}\nThe outcome is unknown and this kind of command cannot be checked automatically: "
            "a person must check the upstream, then resend it (not applied) or close it in the admin site. "
            "The partner's next money commands wait until then."
        )
        logger.error("outbox: %s outcome unknown; needs a person: %s", command, error)
    else:
        message = f"{error}\nThe outcome is unknown; it will be checked upstream before anything is resent."
        logger.warning("outbox: %s outcome unknown: %s", command, error)
    check_at = timezone.now() + reconcile_delay()
    _transition(command, (Status.SENDING,), lambda row: row.mark_unknown(check_at=check_at, error=message))


def _follow_up(partner_key: str | None) -> None:
    """Schedule a drain for the next command waiting on a backoff or a reconcile delay."""
    now = timezone.now()
    waiting = _due(partner_key, now + timedelta(days=3650)).filter(next_attempt_at__gt=now)
    when = waiting.aggregate(when=Min("next_attempt_at"))["when"]
    if when is not None and when <= now + FOLLOWUP_HORIZON:
        _schedule_followup(partner_key, when)


# --- operator actions (the admin site) ------------------------------------------------------------------


def retry_now(command: OutboxCommand) -> str:
    """Retry a failed or stuck command now; never resends one whose outcome is unknown without a check.

    Returns what was done, for the admin's message.
    """
    now = timezone.now()
    with transaction.atomic():
        row = OutboxCommand.objects.select_for_update().get(pk=command.pk)
        if row.status == Status.FAILED:
            row.mark_retried_by_operator()
            outcome = "retried"
        elif row.status == Status.PENDING:
            row.next_attempt_at = now
            row.save(update_fields=["next_attempt_at"])
            outcome = "retried"
        elif row.status == Status.SENDING and row.sent_at and row.sent_at < now - sending_lease():
            row.mark_unknown(check_at=now, error=f"{row.last_error}\nChecked by an operator's retry.".strip())
            outcome = "reconciling"
        elif row.status == Status.UNKNOWN and (
            _can_check(row.kind) or not _needs_person(row.kind, row.serial)
        ):
            row.next_attempt_at = now
            row.save(update_fields=["next_attempt_at"])
            outcome = "reconciling"
        else:
            return "skipped"
    transaction.on_commit(partial(schedule_drain, row.partner_key), robust=True)
    return outcome


def mark_applied(command: OutboxCommand, result: dict) -> bool:
    """An operator found an unknown command applied upstream: record `result` (e.g. its transaction id).

    Raises ValueError when a key the handler needs (Handler.operator_result) is missing or blank.
    """
    handler = HANDLERS[command.kind]
    missing = [key for key in handler.operator_result if not str(result.get(key) or "").strip()]
    if missing:
        raise ValueError(f"Needed to mark it applied: {', '.join(missing)}.")
    with transaction.atomic():
        row = OutboxCommand.objects.select_for_update().get(pk=command.pk)
        if row.status != Status.UNKNOWN:
            return False
        row.mark_succeeded({**result, "confirmed_by_operator": True})
        if handler.on_success is not None:
            handler.on_success(row, row.result)
    transaction.on_commit(partial(schedule_drain, row.partner_key), robust=True)
    return True


def resend_unknown(command: OutboxCommand) -> bool:
    """An operator checked upstream that an unknown command was not applied: send it again."""
    with transaction.atomic():
        row = OutboxCommand.objects.select_for_update().get(pk=command.pk)
        if row.status != Status.UNKNOWN:
            return False
        row.mark_retry(
            at=timezone.now(),
            error=f"{row.last_error}\nChecked upstream by an operator: not applied; sending again.".strip(),
        )
    transaction.on_commit(partial(schedule_drain, row.partner_key), robust=True)
    return True
