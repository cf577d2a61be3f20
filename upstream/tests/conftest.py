"""Fixtures of the upstream link's tests."""

from __future__ import annotations

import pytest

from upstream import outbox


@pytest.fixture
def scheduled(monkeypatch):
    """Drains the outbox asked for (instead of messages to the broker): a list of (partner_key, countdown)."""
    calls: list[tuple[str | None, float | None]] = []
    monkeypatch.setattr(
        outbox, "schedule_drain", lambda key=None, *, countdown=None: calls.append((key, countdown))
    )
    return calls


@pytest.fixture
def fast_outbox(settings):
    """No waiting between tries in the in-process tests."""
    settings.OUTBOX_BACKOFF_SECONDS = 0
    settings.OUTBOX_RECONCILE_GRACE_SECONDS = 0
    settings.OUTBOX_MAX_ATTEMPTS = 8
    settings.UPSTREAM_READ_TIMEOUT = 0.5  # an unknown outcome is looked up this long after the send
    return settings
