"""The Celery app: settings under the CELERY_ namespace, tasks autodiscovered from each app's tasks.py.

The worker also writes a heartbeat to Redis (see WorkerHeartbeat) that /healthz reads, and so does beat:
beat schedules `portal.beat_heartbeat` every BEAT_HEARTBEAT_SECONDS, a task that only records the time. A
scheduled task (rather than a hook inside the beat process) proves what matters: beat is running, its
schedule is being sent to the broker, and something consumes it. (A dead worker is reported on its own.)
"""

from __future__ import annotations

import contextlib
import os
import time

from celery import Celery, bootsteps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

HEARTBEAT_KEY = "portal:worker-heartbeat"
BEAT_HEARTBEAT_KEY = "portal:beat-heartbeat"


def write_heartbeat(redis_client, ttl: int) -> None:
    """Record that a worker is alive now (Unix time), expiring on its own if the worker dies."""
    redis_client.set(HEARTBEAT_KEY, str(time.time()), ex=ttl)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Every WORKER_HEARTBEAT_SECONDS, the worker records in Redis that it is alive."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(settings.REDIS_URL)
        interval = settings.WORKER_HEARTBEAT_SECONDS
        ttl = settings.WORKER_HEARTBEAT_STALE

        def beat():
            # Redis down: /healthz reports it; the next beat tries again.
            with contextlib.suppress(redis.RedisError):
                write_heartbeat(client, ttl)

        beat()
        self.tref = worker.timer.call_repeatedly(interval, beat)

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


app.steps["worker"].add(WorkerHeartbeat)


@app.task(name="portal.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    """Scheduled by beat only: record that beat is ticking (expires on its own when beat stops)."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(BEAT_HEARTBEAT_KEY, str(time.time()), ex=settings.BEAT_HEARTBEAT_STALE * 4)
