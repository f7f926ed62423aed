"""CSV exports of the Syncs and Logs tabs' filtered lists: every matching row, not
only the page, streamed (StreamingHttpResponse over a chunked iterator), so that a
million syncs cost a chunk of rows of memory at a time, never the whole list.

A cell that a spreadsheet would read as a formula (it starts with =, +, -, @, a
tab or a carriage return: OWASP's "CSV injection") is written with a leading
apostrophe, which spreadsheets show as text.

Every CSV starts with a UTF-8 byte-order mark (BOM), without which Excel reads the
file as the system's code page and garbles non-ASCII ("Web â†” QA"). Times are in
the display zone of the request that asked (ISO 8601 with the offset, as the page
shows them): the zone is taken when the response is made and passed along, because
the rows are produced while the response streams, after the request's zone
activation (accounts.preferences.DisplayZoneMiddleware) has ended."""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo

from django.db.models import F, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

from synchronizations.models import LogEntry, SyncOrder
from syncweb.zones import file_stamp

# Rows read from the database at a time (server-side cursor on PostgreSQL,
# fetchmany on SQLite).
CHUNK = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"

SYNC_COLUMNS = (
    "id", "status", "mapping", "left_key", "left_url", "right_key", "right_url", "title", "last_processed_at",
    "error_message", "error_kind",
)  # fmt: skip
LOG_COLUMNS = ("id", "time", "level", "message", "sync_id", "mapping", "by", "detail")


def neutralise(value, zone: tzinfo | None = None) -> str:
    """``value`` as CSV cell text: times in ISO 8601 in ``zone`` (default: the
    current zone) with their offset, None as "", and text that would start a
    formula prefixed with "'"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value, zone).isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file whose write() returns what it was given: csv.writer's rows as strings."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable], zone: tzinfo | None = None) -> Iterator[str]:
    """The BOM and the header line, then each row's line, every cell through
    neutralise() (times in ``zone``, default the current zone when called)."""
    zone = zone or timezone.get_current_timezone()
    writer = csv.writer(_Echo())
    yield BOM + writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(cell, zone) for cell in row])


def filename(stem: str) -> str:
    """A download's file name: ``stem``, the time now in the display zone and that
    zone's offset ("syncs-20261129-223934+0545.csv")."""
    return f"{stem}-{file_stamp(timezone.localtime())}.csv"


def streamed(stem: str, header: Iterable[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    """A CSV download of ``rows`` under ``header``, sent as produced, its times in
    the display zone of the request being answered (taken now, not while the
    response streams: by then the request's zone is no longer active)."""
    lines = csv_lines(header, rows, timezone.get_current_timezone())
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename(stem)}"'
    response["Cache-Control"] = "no-store"
    return response


def absolute_urls(request: HttpRequest, rows: Iterable[tuple]) -> Iterator[tuple]:
    """SYNC_COLUMNS rows whose artifact URLs are absolute: a relative one (the
    sandbox's admin pages, "/sync/admin/...") gets the request's scheme and host."""
    left, right = SYNC_COLUMNS.index("left_url"), SYNC_COLUMNS.index("right_url")
    for row in rows:
        row = list(row)
        for column in (left, right):
            if row[column] and "://" not in row[column]:
                row[column] = request.build_absolute_uri(row[column])
        yield tuple(row)


def sync_rows(syncs: QuerySet, order: SyncOrder) -> Iterator[tuple]:
    """Every sync of ``syncs`` in ``order`` (the page's), as SYNC_COLUMNS. The error
    kind is "conflict" or "deleted" for those errors (their own kinds), else the
    error's pattern (its message with keys and numbers taken out, as the
    Dashboard's most frequent errors count them), "" without an error."""
    column = F(order.field)
    first = column.desc(nulls_last=True) if order.descending else column.asc(nulls_last=True)
    rows = (
        syncs.order_by(first, "-pk" if order.pk_descending else "pk")
        .annotate(kind=KeyTextTransform("kind", "error_context"))
        .values_list(
            "pk",
            "status",
            "mapping__name",
            "left_key",
            "left_url",
            "right_key",
            "right_url",
            "title",
            "last_processed_at",
            "error_message",
            "kind",
            "error_pattern",
        )
        .iterator(chunk_size=CHUNK)
    )
    for *shown, kind, pattern in rows:
        yield (*shown, kind or pattern)


def log_rows(entries: QuerySet) -> Iterator[tuple]:
    """Every entry of ``entries``, newest first (the Logs tab's order), as LOG_COLUMNS."""
    rows = (
        entries.order_by("-timestamp", "-pk")
        .values_list("pk", "timestamp", "level", "message", "sync_id", "mapping__name", "actor", "detail")
        .iterator(chunk_size=CHUNK)
    )
    for pk, moment, level, message, sync_id, mapping, actor, detail in rows:
        yield (
            pk,
            moment,
            LogEntry.Level(level).label if level in LogEntry.Level.values else level,
            message,
            (sync_id),
            mapping,
            actor or "engine",
            detail,
        )


def count_up_to(queryset: QuerySet, limit: int) -> int:
    """How many rows ``queryset`` has, counting at most ``limit`` + 1 (a bounded
    COUNT over a LIMIT subquery: the answer is exact up to ``limit``)."""
    return queryset.order_by().values("pk")[: limit + 1].count()
