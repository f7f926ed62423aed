"""The state of what syncweb depends on: the database, Redis, the Celery workers.

Each check answers within about a second, whatever is down."""

from django.db import DatabaseError, connection
from redis import RedisError

from syncweb.workers import alive_workers, redis_client


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor}


def check_redis_and_workers() -> tuple[dict, dict]:
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
    database = check_database()
    redis, workers = check_redis_and_workers()
    healthy = database["ok"] and redis["ok"] and workers["ok"]
    return {"status": "ok" if healthy else "degraded", "database": database, "redis": redis, "workers": workers}
