import pytest
import redis
from django.conf import settings

from portal.celery import HEARTBEAT_KEY


@pytest.mark.django_db(transaction=True)
def test_healthz_is_ok_with_database_redis_and_a_live_worker(client, celery_worker_process):
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
