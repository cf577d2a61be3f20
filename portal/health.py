"""Health checks for /healthz: database, Redis, the Celery worker and beat heartbeats, and sync health.

Three answers: `ok`; `degraded` (HTTP 200, so a load balancer keeps the node: it serves pages, but a sync is
failing or late, or the beat scheduler is not ticking; the reasons say which); `unavailable` (HTTP 503: the
database, Redis or the worker is down).
"""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from portal.celery import BEAT_HEARTBEAT_KEY, HEARTBEAT_KEY


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


def _heartbeat(key: str, stale_seconds: float, who: str) -> dict:
    """A process's heartbeat in Redis: ok while it is younger than stale_seconds."""
    try:
        value = _redis().get(key)
    except redis.RedisError as exc:
        return {"ok": False, "error": f"{who} heartbeat unreadable: {exc}"[:200]}
    if value is None:
        return {"ok": False, "error": f"no {who} heartbeat"}
    age = time.time() - float(value)
    result = {"ok": age <= stale_seconds, "heartbeat_age_seconds": round(age, 1)}
    if not result["ok"]:
        result["error"] = f"{who} heartbeat is stale"
    return result


def check_worker() -> dict:
    return _heartbeat(HEARTBEAT_KEY, settings.WORKER_HEARTBEAT_STALE, "worker")


CHECKS = {"database": check_database, "redis": check_redis, "worker": check_worker}


def check_beat() -> dict:
    """The beat scheduler's heartbeat: a tiny task it schedules every BEAT_HEARTBEAT_SECONDS writes it."""
    return _heartbeat(BEAT_HEARTBEAT_KEY, settings.BEAT_HEARTBEAT_STALE, "beat")


def check_syncs() -> dict:
    """Each dataset: failing if its last finished run failed, late if its last success is older than three
    times its schedule (settings.SYNC_SCHEDULE), or never synced. Two queries whatever the history."""
    from upstream.models import SyncRun
    from upstream.sync import datasets

    now = timezone.now()
    names = [d.name for d in datasets()]
    finished = SyncRun.objects.filter(dataset__in=names).exclude(status=SyncRun.Status.RUNNING)
    last_finished = {
        r.dataset: r for r in finished.order_by("dataset", "-started_at", "-id").distinct("dataset")
    }
    good = finished.filter(status=SyncRun.Status.SUCCEEDED)
    last_good = {r.dataset: r for r in good.order_by("dataset", "-started_at", "-id").distinct("dataset")}
    problems: dict[str, str] = {}
    for name in names:
        schedule = settings.SYNC_SCHEDULE[name]
        last, success = last_finished.get(name), last_good.get(name)
        if last is not None and last.status == SyncRun.Status.FAILED:
            problems[name] = "last run failed"
        elif success is None:
            problems[name] = "never synced"
        elif (now - (success.finished_at or success.started_at)).total_seconds() > 3 * schedule:
            problems[name] = f"last success older than {3 * schedule} s (3 × its schedule)"
    return {"ok": not problems, "problems": problems}


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


def run_checks() -> tuple[str, dict]:
    """Every check: `unavailable` if the database, Redis or the worker is down; else `degraded` with the
    reasons if a sync is failing or late or beat is not ticking; else `ok`. The last syncs go alongside."""
    results = {name: check() for name, check in CHECKS.items()}
    reasons = [f"{name}: {r.get('error', 'down')}" for name, r in results.items() if not r["ok"]]
    status = "unavailable" if reasons else "ok"
    results["beat"] = check_beat()
    if not results["beat"]["ok"]:
        reasons.append(f"beat: {results['beat']['error']}")
    if results["database"]["ok"]:
        results["sync"] = check_syncs()
        reasons += [f"sync {name}: {why}" for name, why in results["sync"]["problems"].items()]
        results["last_sync"] = last_syncs()
    else:
        results["last_sync"] = {}
    if status == "ok" and reasons:
        status = "degraded"
    results["reasons"] = reasons
    return status, results
