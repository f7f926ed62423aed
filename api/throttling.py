"""Rate limits per API token (and per signed-in user), counted in Django's cache."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    """SYNCWEB_API_RATE requests (e.g. "600/minute") per token; a session counts
    per user. Read at each request, so a test or a changed setting takes effect.
    The counts live in Django's cache: per web process unless CACHES is shared
    (e.g. Redis). Over the limit: 429 with Retry-After."""

    scope = "token"

    def get_rate(self) -> str:
        return settings.SYNCWEB_API_RATE

    def allow_request(self, request, view) -> bool:
        """Reads the rate now (SimpleRateThrottle reads it once, when made)."""
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if request.auth is not None and hasattr(request.auth, "prefix"):
            return f"api-throttle:token:{request.auth.prefix}"
        if request.user and request.user.is_authenticated:
            return f"api-throttle:user:{request.user.pk}"
        return None  # anonymous requests are refused anyway
