"""The state of what syncweb depends on: the database, Redis, the Celery workers.

Each check answers within about a second, whatever is down."""

from django.db import DatabaseError, connection
from redis import RedisError

from runtime.workers import alive_workers, redis_client


def check_database() -> dict:
    """``{"ok": True, "vendor": "sqlite" | "postgresql"}``, or ``{"ok": False,
    "error": str}`` when a ``SELECT 1`` fails. Never raises a DatabaseError."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor}


def check_redis_and_workers() -> tuple[dict, dict]:
    """The state of Redis and of the workers, each ``{"ok": bool, ...}``: Redis with an
    ``error`` when it does not answer within a second; the workers with ``alive``
    (hostname -> seconds since its last heartbeat) and an ``error`` when none is
    alive or Redis cannot tell. Never raises a RedisError."""
    client = redis_client(timeout=1.0)
    try:
        client.ping()
    except RedisError as exc:
        down = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        return down, {"ok": False, "error": "unknown while Redis is down", "alive": {}}
    try:
        alive = alive_workers(client)
    except RedisError as exc:
        return {"ok": False, "error": str(exc)}, {"ok": False, "error": "unknown while Redis fails", "alive": {}}
    workers = {"ok": bool(alive), "alive": alive}
    if not alive:
        workers["error"] = "no worker has sent a heartbeat recently"
    return {"ok": True}, workers


def health() -> dict:
    """``{"status": "ok" | "degraded", "database": ..., "redis": ..., "workers": ...}``
    as the health check returns it: ok when the database, Redis and at least one
    worker are up."""
    database = check_database()
    redis, workers = check_redis_and_workers()
    healthy = database["ok"] and redis["ok"] and workers["ok"]
    return {"status": "ok" if healthy else "degraded", "database": database, "redis": redis, "workers": workers}
