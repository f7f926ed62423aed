"""Rate limits per API token (and per signed-in user), counted in Redis so that
every web process (each gunicorn worker, each machine) shares them."""

import logging
import math
import time

from django.conf import settings
from django.core.cache import BaseCache, caches
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

SHARED_CACHE = "api-throttle"  # settings.CACHES: Redis at REDIS_URL
LOCAL_CACHE = "default"  # this process's memory
# After Redis failed to answer, count in this process for this many seconds
# before asking Redis again (so that a Redis that is down costs one timeout per
# process and period, not one per request).
RETRY_SHARED_AFTER = 5.0


class _Shared:
    """When this process may ask Redis again (time.monotonic())."""

    retry_at = 0.0


def _increment(cache: BaseCache, key: str, timeout: int) -> int:
    """Adds one to the counter ``key`` of ``cache`` (made, expiring after
    ``timeout`` seconds, if absent) and returns its new value. Atomic in Redis
    (INCR) and in the local memory cache alike."""
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, timeout=timeout)
        return 1


def count_request(key: str, timeout: int) -> int:
    """The request count of ``key`` after this request: in Redis (shared by every
    process), or in this process while Redis does not answer. Never raises for
    Redis being down."""
    if time.monotonic() >= _Shared.retry_at:
        try:
            return _increment(caches[SHARED_CACHE], key, timeout)
        except (RedisError, OSError) as exc:
            _Shared.retry_at = time.monotonic() + RETRY_SHARED_AFTER
            logger.warning("API rate limits are counted per process: Redis did not answer (%s)", exc)
    return _increment(caches[LOCAL_CACHE], key, timeout)


class TokenRateThrottle(SimpleRateThrottle):
    """SYNCWEB_API_RATE requests (e.g. "600/minute") per token; a session counts
    per user. Read at each request, so a test or a changed setting takes effect.
    Counted per window of the rate's period (the minute, for "600/minute") in
    Redis, shared by every web process; per process while Redis does not answer.
    Over the limit: 429 with Retry-After (the seconds to the window's end)."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.SYNCWEB_API_RATE

    def allow_request(self, request, view) -> bool:
        """Counts this request in its window; False once the window holds more
        than the rate allows."""
        self.num_requests, self.duration = self.parse_rate(self.get_rate())
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        self.window_end = (window + 1) * self.duration
        return count_request(f"{key}:{window}", self.duration + 1) <= self.num_requests

    def wait(self) -> float:
        """Seconds until the current window ends (at least 1)."""
        return max(math.ceil(self.window_end - self.now), 1)

    def get_cache_key(self, request, view) -> str | None:
        if request.auth is not None and hasattr(request.auth, "prefix"):
            return f"api-throttle:token:{request.auth.prefix}"
        if request.user and request.user.is_authenticated:
            return f"api-throttle:user:{request.user.pk}"
        return None  # anonymous requests are refused anyway
