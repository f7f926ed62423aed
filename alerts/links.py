"""Absolute links into the console, for notifications read outside it."""

from django.conf import settings


def absolute(path: str) -> str:
    """``path`` (from reverse(), starting with "/") under SYNCWEB_BASE_URL, e.g.
    "http://localhost:8080/sync/syncs/?status=error"."""
    return settings.SYNCWEB_BASE_URL.rstrip("/") + path
