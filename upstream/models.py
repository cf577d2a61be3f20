"""Records of the upstream link: sync runs (pull) and outbox commands (push).

This app imports no other app of the portal: rows refer to partners by their upstream id (`scope`,
`partner_key`) and to domain objects by label and primary key.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.lib.text import db_text


class SyncRun(models.Model):
    """One run of one dataset's sync: its progress while running, its counts and errors afterwards."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    class Mode(models.TextChoices):
        FULL = "full", _("Full")
        INCREMENTAL = "incremental", _("Incremental")

    dataset = models.CharField(_("dataset"), max_length=64, db_index=True)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.FULL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(_("last progress"), default=timezone.now)
    pages = models.PositiveIntegerField(_("pages"), default=0)
    rows_seen = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("rows created"), default=0)
    rows_updated = models.PositiveIntegerField(_("rows updated"), default=0)
    rows_vanished = models.PositiveIntegerField(_("rows gone upstream"), default=0)
    # Rows not stored because a value did not fit its column (upstream/upsert.py logs each one).
    rows_refused = models.PositiveIntegerField(_("rows refused"), default=0)
    rows_total = models.PositiveIntegerField(_("rows expected"), null=True, blank=True)
    errors = models.TextField(_("errors"), blank=True)
    # Incremental position per scope, e.g. {"": "2026-11-24T02:00:00Z", "ip-reseller-a": "..."}.
    cursor = models.JSONField(_("cursor"), default=dict, blank=True)

    class Meta:
        verbose_name = _("sync run")
        verbose_name_plural = _("sync runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["dataset", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.dataset} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def progress(self) -> int | None:
        """Percent done, when the upstream told how many rows to expect."""
        if not self.rows_total:
            return 100 if self.status == self.Status.SUCCEEDED else None
        return min(100, round(100 * self.rows_seen / self.rows_total))

    @property
    def duration(self):
        end = self.finished_at or timezone.now()
        return end - self.started_at


class SyncSeen(models.Model):
    """The keys a full run saw, kept in the database (not in memory) to find rows gone upstream."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=64, blank=True)
    key = models.CharField(max_length=128)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "scope", "key"], name="sync_seen_unique")]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.scope}:{self.key}"


class OutboxStateError(Exception):
    """A status change the outbox's transition table does not allow (a bug, or a race lost)."""


class OutboxCommandQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OutboxCommand.OPEN_STATUSES)

    def for_object(self, obj: models.Model):
        """The commands written for one domain object, oldest first (as audit.history_for)."""
        return self.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk)).order_by(
            "created_at", "id"
        )

    def mark_abandoned(self, *, before, message: str) -> int:
        """`sending` since before `before` (their worker died): the outcome is unknown, to be checked now."""
        OutboxCommand.check_edge(OutboxCommand.Status.SENDING, OutboxCommand.Status.UNKNOWN)
        return self.filter(status=OutboxCommand.Status.SENDING, sent_at__lt=before).update(
            status=OutboxCommand.Status.UNKNOWN, next_attempt_at=timezone.now(), last_error=message
        )


class OutboxCommand(models.Model):
    """A change to push to the upstream, written in the same transaction as the domain change.

    pending → sending → succeeded | failed; a send whose outcome is unknown (timeout) becomes `unknown` and is
    reconciled against the upstream before anything is sent again. Every status change goes through a
    `mark_*` method, checked against TRANSITIONS (see upstream/outbox.py for who calls which).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        UNKNOWN = "unknown", _("Outcome unknown")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    OPEN_STATUSES = (Status.PENDING, Status.SENDING, Status.UNKNOWN)
    TRANSITIONS = {
        # claimed by a worker
        Status.PENDING: {Status.SENDING},
        # answered; refused; transient error (again later); no answer
        Status.SENDING: {Status.SUCCEEDED, Status.FAILED, Status.PENDING, Status.UNKNOWN},
        # found upstream (or confirmed by an operator); not found: send again; not found and out of attempts
        Status.UNKNOWN: {Status.SUCCEEDED, Status.PENDING, Status.FAILED},
        # an operator retries it
        Status.FAILED: {Status.PENDING},
        Status.SUCCEEDED: set(),
    }

    kind = models.CharField(_("kind"), max_length=64, db_index=True)
    payload = models.JSONField(_("payload"), default=dict)
    # The acting partner's upstream id: commands of one partner that move money are sent one at a time.
    partner_key = models.CharField(_("partner"), max_length=64, db_index=True)
    serial = models.BooleanField(_("one at a time per partner"), default=False)
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    objects = OutboxCommandQuerySet.as_manager()

    class Meta:
        verbose_name = _("outbox command")
        verbose_name_plural = _("outbox commands")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["partner_key", "status"]),
            # The drain's claim (outbox._claim_next): a partner's open commands in id order, so that it stops
            # at the head of the line instead of checking and sorting the whole backlog on every command.
            models.Index(
                fields=["partner_key", "id"],
                condition=models.Q(status__in=["pending", "unknown"]),
                name="outbox_open_by_partner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    # --- transitions ------------------------------------------------------------------------------------

    @classmethod
    def check_edge(cls, source: str, to: str) -> None:
        if to not in cls.TRANSITIONS[cls.Status(source)]:
            raise OutboxStateError(f"An outbox command cannot go from {source} to {to}.")

    def _move(self, to: str, **changes) -> None:
        self.check_edge(self.status, to)
        self.status = to
        for name, value in changes.items():
            setattr(self, name, value)
        self.save(update_fields=["status", *changes])

    def mark_sending(self, *, lease_until) -> None:
        """A worker claimed it and is about to send it (one more attempt)."""
        now = timezone.now()
        self._move(self.Status.SENDING, attempts=self.attempts + 1, sent_at=now, next_attempt_at=lease_until)

    def mark_succeeded(self, result: dict) -> None:
        """The upstream applied it (answered, found by a reconcile, or confirmed by an operator)."""
        self._move(self.Status.SUCCEEDED, result=result, finished_at=timezone.now())

    def mark_failed(self, error: str) -> None:
        """Refused by the upstream, or out of attempts: nothing more is sent."""
        self._move(self.Status.FAILED, last_error=db_text(error), finished_at=timezone.now())

    def mark_retry(self, *, at, error: str) -> None:
        """Not applied (transient error, or a reconcile found nothing): send again at `at`."""
        self._move(self.Status.PENDING, next_attempt_at=at, last_error=db_text(error))

    def mark_unknown(self, *, check_at, error: str) -> None:
        """No answer: the outcome is unknown and is looked up upstream at `check_at`, before any resend."""
        self._move(self.Status.UNKNOWN, next_attempt_at=check_at, last_error=db_text(error))

    def mark_retried_by_operator(self) -> None:
        """An operator sends a failed command again, with a fresh count of attempts."""
        self._move(
            self.Status.PENDING,
            attempts=0,
            finished_at=None,
            next_attempt_at=timezone.now(),
            last_error=f"{self.last_error}\nRetried by an operator.".strip(),
        )
