"""/sync/health/ names the state of the database, Redis and the workers."""

import time

import pytest

from runtime.workers import KEY_PREFIX, alive_workers, record_heartbeat, redis_client

pytestmark = pytest.mark.django_db


def test_redis_down_gives_503_naming_it(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    started = time.monotonic()
    response = client.get("/sync/health/")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is False
    assert "Connection" in body["redis"]["error"]
    assert body["workers"]["ok"] is False


def test_redis_up_without_workers_gives_503_naming_the_workers(client, redis_server):
    redis_client().flushall()
    response = client.get("/sync/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"]["ok"] is True
    assert body["workers"] == {"ok": False, "alive": {}, "error": "no worker has sent a heartbeat recently"}


def test_a_worker_counts_as_alive_while_its_heartbeat_lasts(redis_server, settings):
    client = redis_client()
    client.flushall()
    record_heartbeat("w1@host", client)
    assert list(alive_workers(client)) == ["w1@host"]
    client.expire(KEY_PREFIX + "w1@host", 0)
    assert alive_workers(client) == {}


def test_health_is_never_cached(client, redis_server):
    assert "no-cache" in client.get("/sync/health/")["Cache-Control"]
