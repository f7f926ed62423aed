"""Template tags of the console's pages: {% load syncweb_tags %}.

The Syncs table renders 50 rows a page with these, so each is a few microseconds:
Django's ``date`` and ``truncatechars`` filters (a format parser, a walk over every
character) and an inclusion tag (a new context and a template per call) each take
tens of microseconds a value, which would be most of a row's time."""

from datetime import datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from synchronizations.models import LogEntry, SyncStatus

register = template.Library()

# How a sync status or a log level reads, and its badge colour (Bootstrap's
# text-bg-*): one place for the Syncs tab, the sync detail page and the Logs tab.
LABELS = {**dict(LogEntry.Level.choices), **dict(SyncStatus.choices)}  # "error" reads "Error" in both
COLOURS = {
    SyncStatus.OK: "text-bg-success",
    SyncStatus.PENDING: "text-bg-info",
    SyncStatus.PROCESSING: "text-bg-primary",
    SyncStatus.ERROR: "text-bg-danger",  # and LogEntry.Level.ERROR
    SyncStatus.IGNORED: "text-bg-secondary",
    LogEntry.Level.WARNING: "text-bg-warning",
}
OTHER_COLOUR = "text-bg-light"  # info and debug


@register.simple_tag
def status_badge(value: str) -> SafeString:
    """A sync status or a log level as a coloured badge: {% status_badge sync.status %}."""
    return format_html('<span class="badge {}">{}</span>', COLOURS.get(value, OTHER_COLOUR), LABELS.get(value, value))


@register.filter
def minute(moment: datetime | None) -> str:
    """The moment in the current time zone, to the minute ("2026-11-28 14:05"), or "—"."""
    return localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else "—"


@register.filter
def shorten(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, the last an ellipsis, if it is longer."""
    return text if len(text) <= length else text[: length - 1] + "…"
