"""Health checks for /healthz: database, Redis and the Celery worker heartbeat."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.celery import HEARTBEAT_KEY


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the message says which
        return {"ok": False, "error": str(exc).splitlines()[0][:200]}
    return {"ok": True}


def _redis():
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)


def check_redis() -> dict:
    try:
        _redis().ping()
    except redis.RedisError as exc:
        return {"ok": False, "error": str(exc)[:200]}
    return {"ok": True}


def check_worker() -> dict:
    try:
        value = _redis().get(HEARTBEAT_KEY)
    except redis.RedisError as exc:
        return {"ok": False, "error": f"heartbeat unreadable: {exc}"[:200]}
    if value is None:
        return {"ok": False, "error": "no worker heartbeat"}
    age = time.time() - float(value)
    ok = age <= settings.WORKER_HEARTBEAT_STALE
    result = {"ok": ok, "heartbeat_age_seconds": round(age, 1)}
    if not ok:
        result["error"] = "worker heartbeat is stale"
    return result


CHECKS = {"database": check_database, "redis": check_redis, "worker": check_worker}


def last_syncs() -> dict:
    """When each dataset last synced successfully, and how long ago (information; not a pass/fail check)."""
    from upstream.sync import last_good_runs

    now = timezone.now()
    try:
        runs = last_good_runs()
    except Exception as exc:  # the database check reports the cause
        return {"error": str(exc).splitlines()[0][:200]}
    result = {}
    for name, run in runs.items():
        finished = run.finished_at or run.started_at
        result[name] = {
            "finished_at": finished.isoformat(),
            "lag_seconds": round((now - finished).total_seconds()),
        }
    return result


def run_checks() -> tuple[bool, dict]:
    """All checks; healthy only if every one passed. The last syncs are reported alongside."""
    results = {name: check() for name, check in CHECKS.items()}
    healthy = all(r["ok"] for r in results.values())
    results["last_sync"] = last_syncs() if results["database"]["ok"] else {}
    return healthy, results
