"""Worker liveness, as the health check and the dashboard see it.

Every Celery worker beats every two seconds; each beat stores a key in Redis that
expires after SYNCWEB_WORKER_HEARTBEAT_TTL. Reading which workers are alive is then
one SCAN on Redis, with no broadcast to wait for, and a worker that died
disappears on its own once its key expires.
"""

import contextlib
import time

import redis
from celery.signals import heartbeat_sent, worker_ready, worker_shutdown
from django.conf import settings

KEY_PREFIX = "syncweb:worker:"


def redis_client(url: str | None = None, timeout: float = 1.0) -> redis.Redis:
    """A client that gives up after ``timeout`` seconds, so no page hangs on a dead Redis."""
    return redis.Redis.from_url(
        url or settings.REDIS_URL,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        decode_responses=True,
    )


def record_heartbeat(hostname: str, client: redis.Redis | None = None) -> None:
    """Marks worker ``hostname`` alive for SYNCWEB_WORKER_HEARTBEAT_TTL seconds.
    Raises redis.RedisError when Redis does not answer."""
    client = client or redis_client()
    client.set(KEY_PREFIX + hostname, str(time.time()), ex=settings.SYNCWEB_WORKER_HEARTBEAT_TTL)


def forget(hostname: str, client: redis.Redis | None = None) -> None:
    """Marks worker ``hostname`` gone at once. Raises redis.RedisError when Redis does not answer."""
    client = client or redis_client()
    client.delete(KEY_PREFIX + hostname)


def alive_workers(client: redis.Redis) -> dict[str, float]:
    """Hostname -> seconds (rounded to 0.1) since its last heartbeat, for every
    worker still alive. Raises redis.RedisError when Redis does not answer."""
    keys = list(client.scan_iter(match=KEY_PREFIX + "*", count=100))
    if not keys:
        return {}
    now = time.time()
    beats = client.mget(keys)
    return {
        key.removeprefix(KEY_PREFIX): round(now - float(beat), 1)
        for key, beat in zip(keys, beats, strict=True)
        if beat is not None
    }


@worker_ready.connect
def _on_worker_ready(sender, **kwargs) -> None:
    record_heartbeat(sender.hostname)


@heartbeat_sent.connect
def _on_heartbeat(sender, **kwargs) -> None:
    # A beat lost while Redis is away is no error: the worker reconnects by itself,
    # and it counts as not alive meanwhile, which is the truth.
    with contextlib.suppress(redis.RedisError):
        record_heartbeat(sender.eventer.hostname)


@worker_shutdown.connect
def _on_worker_shutdown(sender, **kwargs) -> None:
    with contextlib.suppress(redis.RedisError):  # Redis is gone too; the key expires by itself.
        forget(sender.hostname)
