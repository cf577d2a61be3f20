"""Values computed from the database, cached for exactly as long as nothing in the database has changed.

A page that is a composition of many small aggregates (the dashboard: 14 queries) spends most of its time in
the ORM building them, not in PostgreSQL. Their result is a function of the committed data and of a few
inputs the caller names (scope, access, time zone, the current minute), so it may be cached under a key that
changes whenever any committed data does: PostgreSQL's snapshot of transactions, `pg_current_snapshot()`.

Why the snapshot is an exact stamp: its `xmax` is one past the newest finished transaction and its list holds
the transactions below `xmax` still running. A commit either finishes a transaction at or above `xmax`
(raising `xmax`) or one in the list (removing it); `xmax` never falls and, for the same `xmax`, the list only
shrinks. Two equal snapshots therefore have no commit between them: the data both see is the same, and a
value cached under the first is still the value of the second. The stamp is read before the value is
computed, so a value is never older than its key; at worst a commit made meanwhile is already in it, and
that commit has changed the stamp every later reader sees.

The stamp changes on any commit anywhere (an audit entry, a sync run's row), so a hit means nothing at all
was written since; on a busy portal the cache mostly serves several people (or one refreshing) between
writes. Inside a transaction (a test's, or a view that wrote first) the snapshot does not move with the
transaction's own writes: there `cached` computes and caches nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import connection

T = TypeVar("T")


def database_stamp() -> str | None:
    """The committed state of the whole database, as a string that changes with every commit; None inside a
    transaction (its own uncommitted writes would not change it)."""
    if connection.in_atomic_block:
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_snapshot()::text")
        return cursor.fetchone()[0]


def cached(name: str, inputs: tuple, compute: Callable[[], T]) -> T:
    """`compute()`, from the cache when the database has not changed since it was computed for `inputs`.

    `inputs` must name everything besides the committed data that the value depends on (a repr-stable
    tuple: ids, flags, names, the minute); `compute` must read nothing but the database and those inputs.
    FRAGMENT_CACHE_SECONDS bounds how long an entry is kept (0 turns this off).
    """
    seconds = settings.FRAGMENT_CACHE_SECONDS
    stamp = database_stamp() if seconds else None
    if stamp is None:
        return compute()
    key = f"unchanged:{name}:" + hashlib.sha256(repr((stamp, inputs)).encode()).hexdigest()
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, seconds)
    return value
