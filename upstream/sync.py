"""The sync runner: pull a dataset from the upstream page by page and upsert it, recording a SyncRun.

Each app says how its datasets map from upstream pages to its models in its own `sync.py`, and registers a
Dataset here (this module imports no app). A run streams pages — memory stays flat however large the
dataset — applies each page in its own transaction, updates the SyncRun's counts and progress as it goes,
and at the end of a full run finds the rows that vanished upstream through the keys it saw (kept in the
database, not in memory).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from upstream.client import RetryPolicy, UpstreamClient
from upstream.errors import UpstreamError
from upstream.models import SyncRun, SyncSeen
from upstream.upsert import collect_refusals, insert_keys

logger = logging.getLogger(__name__)


@dataclass
class SyncContext:
    """What a dataset's functions get: the run, the client, the scope, and the incremental cursor."""

    run: SyncRun
    client: UpstreamClient
    scope: str | None  # indirect_partner_id of the reseller whose data this is; None for the top partner
    full: bool
    cursor: Any = None  # this scope's cursor from the last successful run (incremental runs only)
    new_cursor: Any = None  # what the dataset wants remembered for next time
    cache: dict = field(default_factory=dict)  # per-scope lookups a dataset may keep (partner ids …)

    @property
    def scope_key(self) -> str:
        return self.scope or ""

    def since(self, overlap: timedelta = timedelta(minutes=5)) -> datetime | None:
        """Where an incremental run starts reading: the last seen time less an overlap, so that rows sharing
        its second or arriving late are not missed (the upsert makes the overlap harmless); None when full."""
        if self.full or not self.cursor:
            return None
        return datetime.fromisoformat(self.cursor) - overlap

    def advance(self, times: Iterable[datetime | None]) -> None:
        """Remember the latest of these times as where the next incremental run starts."""
        latest = max((t for t in times if t is not None), default=None)
        if latest is not None:
            current = self.new_cursor or self.cursor
            if current is None or latest > datetime.fromisoformat(current):
                self.new_cursor = latest.isoformat()

    def expect(self, total: int) -> None:
        """Tell the run how many rows this scope has, for progress (call once per scope)."""
        self.run.rows_total = (self.run.rows_total or 0) + total


@dataclass(frozen=True)
class Dataset:
    """How one dataset is fetched and stored.

    fetch(ctx) yields pages (sequences of upstream items); apply(ctx, items) stores one page and returns
    (created, updated). With key and on_vanished, a full run calls on_vanished(ctx, seen_keys) once per
    scope, with a queryset of the keys it saw, to mark the rest as gone upstream.
    """

    name: str
    fetch: Callable[[SyncContext], Iterable[Sequence[Any]]]
    apply: Callable[[SyncContext, Sequence[Any]], tuple[int, int]]
    scopes: Callable[[], Sequence[str | None]] = lambda: [None]
    key: Callable[[Any], str] | None = None
    on_vanished: Callable[[SyncContext, QuerySet], int] | None = None
    incremental: bool = False
    full_every: timedelta = timedelta(hours=1)
    order: int = 100  # datasets another depends on run first in `sync_upstream` without --dataset
    label: Any = ""  # what users read (a lazily translated string); the name is the code

    @property
    def verbose_name(self) -> Any:
        return self.label or self.name


REGISTRY: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    """Make a dataset known to the runner, the beat schedule and `manage.py sync_upstream`."""
    REGISTRY[dataset.name] = dataset
    return dataset


def datasets() -> list[Dataset]:
    return sorted(REGISTRY.values(), key=lambda d: (d.order, d.name))


def paginate(
    ctx: SyncContext, call: Callable[[int, int], Any], *, limit: int = 100
) -> Iterator[Sequence[Any]]:
    """Page through an offset/limit list operation: call(offset, limit) → client Page."""
    offset = 0
    while True:
        page = call(offset, limit)
        if offset == 0:
            ctx.expect(page.total)
        if page.items:
            yield page.items
        offset += limit
        if not page.items or offset >= page.total:
            return


def paginate_scope(
    ctx: SyncContext, list_method: Callable[..., Any], **filters: Any
) -> Iterator[Sequence[Any]]:
    """Page through a client list method for the context's scope (its indirect_partner_id), with filters."""
    yield from paginate(
        ctx,
        lambda offset, limit: list_method(
            indirect_partner_id=ctx.scope, offset=offset, limit=limit, **filters
        ),
    )


class SyncAlreadyRunning(Exception):
    """Another worker is running this dataset right now."""


def _claim(dataset: Dataset, mode: str) -> SyncRun:
    """Start a run unless one is alive; a run whose worker died (no progress for a while) is closed first."""
    stale_before = timezone.now() - timedelta(seconds=settings.SYNC_STALE_SECONDS)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"portal-sync:{dataset.name}"])
        running = SyncRun.objects.filter(dataset=dataset.name, status=SyncRun.Status.RUNNING)
        running.filter(heartbeat_at__lt=stale_before).update(
            status=SyncRun.Status.FAILED,
            finished_at=timezone.now(),
            errors="Interrupted: the worker stopped.",
        )
        if running.exists():
            raise SyncAlreadyRunning(dataset.name)
        return SyncRun.objects.create(dataset=dataset.name, mode=mode)


def _choose_mode(dataset: Dataset, mode: str | None) -> str:
    if mode:
        return mode
    if not dataset.incremental:
        return SyncRun.Mode.FULL
    last_full = (
        SyncRun.objects.filter(dataset=dataset.name, mode=SyncRun.Mode.FULL, status=SyncRun.Status.SUCCEEDED)
        .values_list("started_at", flat=True)
        .first()
    )
    if last_full is None or timezone.now() - last_full > dataset.full_every:
        return SyncRun.Mode.FULL
    return SyncRun.Mode.INCREMENTAL


def _last_cursor(dataset: Dataset) -> dict:
    last = (
        SyncRun.objects.filter(dataset=dataset.name, status=SyncRun.Status.SUCCEEDED)
        .values_list("cursor", flat=True)
        .first()
    )
    return last or {}


def run_dataset(
    name: str,
    *,
    mode: str | None = None,
    client: UpstreamClient | None = None,
    on_page: Callable[[SyncRun], None] | None = None,
) -> SyncRun:
    """Run one dataset's sync now, in this process. Raises SyncAlreadyRunning if one is alive."""
    dataset = REGISTRY[name]
    run = _claim(dataset, _choose_mode(dataset, mode))
    full = run.mode == SyncRun.Mode.FULL
    previous_cursor = _last_cursor(dataset)
    own_client = client is None
    client = client or UpstreamClient.from_settings(
        retry=RetryPolicy(
            attempts=settings.UPSTREAM_SYNC_ATTEMPTS, backoff_max=settings.UPSTREAM_SYNC_BACKOFF_MAX
        )
    )
    errors: list[str] = []
    try:
        for scope in dataset.scopes():
            ctx = SyncContext(run=run, client=client, scope=scope, full=full)
            ctx.cursor = previous_cursor.get(ctx.scope_key) if not full else None
            try:
                _run_scope(dataset, ctx, on_page)
            except UpstreamError as exc:
                errors.append(f"{ctx.scope_key or 'partner'}: {exc}")
                logger.warning("sync %s scope %s failed: %s", name, ctx.scope_key, exc)
                ctx.new_cursor = previous_cursor.get(ctx.scope_key)
            if ctx.new_cursor is not None:
                run.cursor[ctx.scope_key] = ctx.new_cursor
            elif ctx.scope_key in previous_cursor:
                run.cursor[ctx.scope_key] = previous_cursor[ctx.scope_key]
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
        logger.exception("sync %s failed", name)
        _finish(run, errors)
        raise
    finally:
        if own_client:
            client.close()
    _finish(run, errors)
    return run


def _run_scope(dataset: Dataset, ctx: SyncContext, on_page) -> None:
    run = ctx.run
    track = ctx.full and dataset.key is not None and dataset.on_vanished is not None
    for items in dataset.fetch(ctx):
        with transaction.atomic(), collect_refusals() as refused:
            created, updated = dataset.apply(ctx, items)
            if track:
                insert_keys(
                    SyncSeen,
                    {"run_id": run.pk, "scope": ctx.scope_key},
                    "key",
                    [dataset.key(i) for i in items],
                )
            run.pages += 1
            run.rows_seen += len(items)
            run.rows_created += created
            run.rows_updated += updated
            run.rows_refused += len(refused)
            run.heartbeat_at = timezone.now()
            run.save(
                update_fields=[
                    "pages",
                    "rows_seen",
                    "rows_created",
                    "rows_updated",
                    "rows_refused",
                    "rows_total",
                    "heartbeat_at",
                ]
            )
        if on_page is not None:
            on_page(run)
    if track:
        seen = SyncSeen.objects.filter(run=run, scope=ctx.scope_key).values("key")
        with transaction.atomic():
            run.rows_vanished += dataset.on_vanished(ctx, seen)
            run.save(update_fields=["rows_vanished"])
        SyncSeen.objects.filter(run=run, scope=ctx.scope_key).delete()


def _finish(run: SyncRun, errors: list[str]) -> None:
    run.status = SyncRun.Status.FAILED if errors else SyncRun.Status.SUCCEEDED
    run.errors = "\n".join(errors)[:10000]
    run.finished_at = timezone.now()
    run.heartbeat_at = run.finished_at
    run.save()
    SyncSeen.objects.filter(run=run).delete()


def last_good_runs() -> dict[str, SyncRun]:
    """The last successful run of each registered dataset (for /healthz and the dashboard)."""
    result = {}
    for dataset in datasets():
        run = SyncRun.objects.filter(dataset=dataset.name, status=SyncRun.Status.SUCCEEDED).first()
        if run is not None:
            result[dataset.name] = run
    return result
