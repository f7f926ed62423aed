"""Template tags of the console's pages: {% load syncweb_tags %}.

The Syncs table renders 50 rows a page with these, so each is a few microseconds:
Django's ``date`` and ``truncatechars`` filters (a format parser, a walk over every
character) and an inclusion tag (a new context and a template per call) each take
tens of microseconds a value, which would be most of a row's time."""

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from synchronizations.models import LogEntry, SyncStatus
from syncweb import zones
from syncweb.zones import label

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


def _time(moment: datetime | None, shape: str, empty: str) -> SafeString | str:
    """A <time> element: the moment in the current (display) time zone with the
    zone's name, its UTC time as the hover text and in ``datetime``."""
    if not moment:
        return empty
    local = localtime(moment)
    utc = moment.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC">{} {}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime(shape),
        label(local),
    )


@register.filter
def minute(moment: datetime | None, empty: str = "—") -> SafeString | str:
    """The moment in the display zone, to the minute, with its zone
    ("2026-11-28 14:05 CET"; the UTC time on hover), or ``empty``."""
    return _time(moment, "%Y-%m-%d %H:%M", empty)


@register.filter
def moment(value: datetime | None, empty: str = "—") -> SafeString | str:
    """The moment in the display zone, to the second, with its zone
    ("2026-11-28 14:05:59 CET"; the UTC time on hover), or ``empty``."""
    return _time(value, "%Y-%m-%d %H:%M:%S", empty)


@register.filter
def zoned(value: datetime | None, empty: str = "—") -> str:
    """The moment as plain text in the current zone, to the minute, with its zone
    ("2026-11-28 14:05 CET"): for text without HTML (the alerts' notifications)."""
    return zones.text(value) if value else empty


@register.filter
def thousands(number: int) -> str:
    """A count with a comma between thousands, as the README writes them: "10,000"."""
    return f"{number:,}"


@register.filter
def shorten(text: str, length: int) -> str:
    """``text`` cut to ``length`` characters, the last an ellipsis, if it is longer."""
    return text if len(text) <= length else text[: length - 1] + "…"
