"""Celery tasks of the upstream link: thin wrappers that take names and ids and call the runner."""

from __future__ import annotations

import logging

from celery import shared_task

from upstream.outbox import drain
from upstream.sync import REGISTRY, SyncAlreadyRunning, run_dataset

logger = logging.getLogger(__name__)


@shared_task(name="upstream.sync_dataset", ignore_result=True)
def sync_dataset(name: str, mode: str | None = None) -> None:
    """Run one dataset's sync; a run already alive elsewhere makes this one a no-op."""
    if name not in REGISTRY:
        logger.error("sync_dataset: unknown dataset %r", name)
        return
    try:
        run_dataset(name, mode=mode)
    except SyncAlreadyRunning:
        logger.info("sync %s is already running; skipped", name)


@shared_task(name="upstream.drain_outbox", ignore_result=True)
def drain_outbox(partner_key: str | None = None) -> dict:
    """Send the outbox's due commands (of one partner, or all); safe to run any number of times at once."""
    return drain(partner_key=partner_key or None).as_dict()
