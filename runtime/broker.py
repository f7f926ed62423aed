"""The broker as the Dashboard shows it: waiting messages and live workers, asked of
Redis with a short timeout and kept a few seconds, so no page waits on a dead Redis."""

from django.core.cache import cache
from redis import RedisError

from runtime.workers import alive_workers, redis_client

CACHE_KEY = "runtime:broker"
CACHE_SECONDS = 5
TIMEOUT = 0.5  # seconds Redis has to answer before it counts as down
QUEUE = "celery"  # Celery's default queue: a Redis list of waiting messages


def queue_and_workers() -> dict:
    """``{"waiting": int | None, "workers": {hostname: seconds since its last
    heartbeat} | None, "error": str}``. While Redis does not answer within TIMEOUT,
    waiting and workers are None and error says why; never raises. The answer is
    kept CACHE_SECONDS in Django's cache."""
    state = cache.get(CACHE_KEY)
    if state is None:
        try:
            client = redis_client(timeout=TIMEOUT)
            state = {"waiting": client.llen(QUEUE), "workers": alive_workers(client), "error": ""}
        except RedisError as exc:
            state = {"waiting": None, "workers": None, "error": f"Redis does not answer ({exc})"}
        cache.set(CACHE_KEY, state, CACHE_SECONDS)
    return state
