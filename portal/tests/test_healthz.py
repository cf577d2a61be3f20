from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from portal.celery import BEAT_HEARTBEAT_KEY, HEARTBEAT_KEY, beat_heartbeat
from upstream.models import SyncRun
from upstream.sync import datasets


def _all_synced(ago: timedelta = timedelta(seconds=5)) -> None:
    finished = timezone.now() - ago
    for dataset in datasets():
        SyncRun.objects.create(
            dataset=dataset.name, status=SyncRun.Status.SUCCEEDED, started_at=finished, finished_at=finished
        )


@pytest.fixture
def healthy(settings):
    """Worker and beat alive, every dataset synced just now."""
    import time

    redis.Redis.from_url(settings.REDIS_URL).set(HEARTBEAT_KEY, str(time.time()))
    beat_heartbeat()
    _all_synced()


@pytest.mark.django_db(transaction=True)
def test_healthz_is_ok_with_database_redis_and_a_live_worker(client, celery_worker_process):
    beat_heartbeat()
    _all_synced()
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"] and body["worker"]["ok"]
    assert body["worker"]["heartbeat_age_seconds"] < 5


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_when_the_worker_stops(client, celery_worker_process):
    celery_worker_process.stop(kill=True)
    redis.Redis.from_url(settings.REDIS_URL).delete(HEARTBEAT_KEY)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"] == {"ok": False, "error": "no worker heartbeat"}


@pytest.mark.django_db
def test_healthz_is_503_when_the_heartbeat_is_stale(client, settings):
    import time

    redis.Redis.from_url(settings.REDIS_URL).set(HEARTBEAT_KEY, str(time.time() - 600))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"]["error"] == "worker heartbeat is stale"


@pytest.mark.django_db
def test_healthz_is_503_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 503
    assert body["redis"]["ok"] is False and body["database"]["ok"] is True


@pytest.mark.django_db
def test_healthz_is_503_when_the_database_is_down(client, monkeypatch):
    from django.db import connection

    def broken_cursor(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "error": "connection refused"}


# --- sync health and beat (degraded: HTTP 200 with the reasons) ---------------------------------------------


@pytest.mark.django_db
def test_healthz_is_ok_when_everything_is_fresh(client, healthy):
    body = client.get("/healthz").json()
    assert (body["status"], body["reasons"]) == ("ok", [])
    assert body["sync"] == {"ok": True, "problems": {}} and body["beat"]["ok"] is True


@pytest.mark.django_db
def test_a_dataset_whose_last_run_failed_makes_healthz_degraded_not_503(client, healthy):
    SyncRun.objects.create(
        dataset="warnings", status=SyncRun.Status.FAILED, errors="CBC.0999", finished_at=timezone.now()
    )
    # A run going on now does not hide the failure.
    SyncRun.objects.create(
        dataset="warnings", status=SyncRun.Status.RUNNING, started_at=timezone.now() + timedelta(seconds=1)
    )
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["reasons"] == ["sync warnings: last run failed"]


@pytest.mark.django_db
def test_a_dataset_late_by_three_schedules_makes_healthz_degraded(client, healthy, settings):
    schedule = settings.SYNC_SCHEDULE["customers"]
    SyncRun.objects.filter(dataset="customers").update(
        finished_at=timezone.now() - timedelta(seconds=3 * schedule + 5)
    )
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["sync"]["problems"] == {
        "customers": f"last success older than {3 * schedule} s (3 × its schedule)"
    }
    # Just inside three schedules is fine.
    SyncRun.objects.filter(dataset="customers").update(
        finished_at=timezone.now() - timedelta(seconds=3 * schedule - 5)
    )
    assert client.get("/healthz").json()["status"] == "ok"


@pytest.mark.django_db
def test_a_dataset_never_synced_is_reported(client, healthy):
    SyncRun.objects.filter(dataset="dedicated_offers").delete()
    body = client.get("/healthz").json()
    assert body["status"] == "degraded" and body["sync"]["problems"] == {"dedicated_offers": "never synced"}


@pytest.mark.django_db
def test_a_missing_or_stale_beat_heartbeat_is_reported(client, healthy, settings):
    import time

    r = redis.Redis.from_url(settings.REDIS_URL)
    r.delete(BEAT_HEARTBEAT_KEY)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["beat"] == {"ok": False, "error": "no beat heartbeat"}
    r.set(BEAT_HEARTBEAT_KEY, str(time.time() - settings.BEAT_HEARTBEAT_STALE - 1))
    assert client.get("/healthz").json()["reasons"] == ["beat: beat heartbeat is stale"]


def test_beat_schedules_its_heartbeat_well_within_the_stale_limit(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["beat-heartbeat"]
    assert entry["task"] == "portal.beat_heartbeat"
    assert entry["schedule"] * 2 <= settings.BEAT_HEARTBEAT_STALE


@pytest.mark.django_db
def test_down_beats_degraded(client, healthy, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    SyncRun.objects.create(dataset="warnings", status=SyncRun.Status.FAILED, finished_at=timezone.now())
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "unavailable"
    assert "sync warnings: last run failed" in response.json()["reasons"]


@pytest.mark.django_db
def test_head_healthz_works(client, healthy):
    response = client.head("/healthz")
    assert response.status_code == 200 and response.content == b""
    assert client.post("/healthz").status_code == 405
