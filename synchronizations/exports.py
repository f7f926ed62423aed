"""CSV exports of the Syncs and Logs tabs' filtered lists: every matching row, not
only the page, streamed (StreamingHttpResponse over a chunked iterator), so that a
million syncs cost a chunk of rows of memory at a time, never the whole list.

A cell that a spreadsheet would read as a formula (it starts with =, +, -, @, a
tab or a carriage return: OWASP's "CSV injection") is written with a leading
apostrophe, which spreadsheets show as text."""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db.models import F, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.http import StreamingHttpResponse
from django.utils import timezone

from synchronizations.models import LogEntry, SyncOrder

# Rows read from the database at a time (server-side cursor on PostgreSQL,
# fetchmany on SQLite).
CHUNK = 2000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SYNC_COLUMNS = (
    "id", "status", "mapping", "left_key", "left_url", "right_key", "right_url", "title", "last_processed_at",
    "error_message", "error_kind",
)  # fmt: skip
LOG_COLUMNS = ("id", "time", "level", "message", "sync_id", "mapping", "by", "detail")


def neutralise(value) -> str:
    """``value`` as CSV cell text: times in ISO 8601 in the display zone (with their
    offset), None as "", and text that would start a formula prefixed with "'"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file whose write() returns what it was given: csv.writer's rows as strings."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The header line, then each row's line, every cell through neutralise()."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([neutralise(cell) for cell in row])


def streamed(filename: str, lines: Iterator[str]) -> StreamingHttpResponse:
    """A CSV download named ``filename`` whose body is ``lines``, sent as produced."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


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
