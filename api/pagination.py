"""Keyset ("cursor") pagination for the API's long lists: a page costs what the
first one costs, however deep, and rows arriving meanwhile never shift a page.

The cursor is the last row's position in the list's order, in the text the Logs
tab puts in its URL (``<ISO time>|<id>``, synchronizations.models.LogCursor);
clients take it from ``next`` and never build it. A cursor or ``limit`` that is
not valid is a 400 problem naming the parameter, never a 404 or a 500."""

from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from api.problems import InvalidParameters
from synchronizations.models import DEFAULT_SYNC_ORDER, LogCursor, LogEntry, SyncCursor
from syncweb.inputs import parse_id, parse_int

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class KeysetPagination(CursorPagination):
    """DRF's CursorPagination, with the position read from an index-served order
    by ``fetch()`` (DRF's own cursor compares one column and skips an offset,
    which cannot follow NULLS LAST). Subclasses say how a position is written,
    read and followed. Query parameters: ``cursor`` and ``limit`` (1 to MAX_LIMIT,
    default DEFAULT_LIMIT)."""

    page_size = DEFAULT_LIMIT
    page_size_query_param = "limit"
    max_page_size = MAX_LIMIT
    cursor_query_description = "Where the page starts: the cursor of the previous page's `next` link."
    page_size_query_description = f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."

    def parse(self, text: str):
        """The position ``text`` spells, or None when it is not one this list made."""
        raise NotImplementedError

    def write(self, position) -> str:
        raise NotImplementedError

    def fetch(self, queryset: QuerySet, position, count: int) -> list:
        """Up to ``count`` rows after ``position`` (None: from the start), in order."""
        raise NotImplementedError

    def position_of(self, row):
        raise NotImplementedError

    def paginate_queryset(self, queryset, request, view=None):
        """One page (a list) of ``queryset``; raises InvalidParameters for a bad
        ``cursor`` or ``limit``."""
        self.start(request)
        rows = self.fetch(queryset, self.position(request), self.page_size + 1)
        self.following = self.position_of(rows[self.page_size - 1]) if len(rows) > self.page_size else None
        return rows[: self.page_size]

    def start(self, request) -> None:
        """Reads the page's size (``limit``) and remembers the URL for ``next``."""
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self._limit(request)

    def position(self, request):
        """The ``cursor`` asked for (None: from the start); InvalidParameters for
        one this list did not make."""
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        position = self.parse(raw)
        if position is None:
            raise InvalidParameters({self.cursor_query_param: ["Not a cursor this list made: follow `next`."]})
        return position

    def _limit(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        limit = parse_int(raw, minimum=1, maximum=self.max_page_size)
        if limit is None:
            raise InvalidParameters({self.page_size_query_param: [f"Give a whole number from 1 to {MAX_LIMIT}."]})
        return limit

    def get_next_link(self) -> str | None:
        if self.following is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, self.write(self.following))

    def get_previous_link(self) -> None:
        return None

    def get_paginated_response(self, data) -> Response:
        return Response({"next": self.get_next_link(), "results": data})

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": "string",
                    "nullable": True,
                    "format": "uri",
                    "description": "The next page (null: this is the last).",
                    "example": "https://sync.example.com/sync/api/v1/syncs/?status=error&cursor=2026-05-01T10%3A00%3A00%2B00%3A00%7C4711",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": self.cursor_query_description,
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": self.page_size_query_description,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
        ]

    def first_page_url(self) -> str:
        return remove_query_param(self.base_url, self.cursor_query_param)


class SyncPagination(KeysetPagination):
    """The Syncs list in one of the Syncs tab's orders (the view's ``order``, one
    of synchronizations.models.SYNC_ORDERS; default: last processed first), paged
    by SynchronizationQuerySet.page() as the tab pages it: never processed syncs
    last in either direction of last processed, the id breaking ties. A position
    is the tab's SyncCursor, ``<value>|<id>``."""

    def paginate_queryset(self, queryset, request, view=None):
        """One page in the view's ``order``; InvalidParameters for a bad cursor or limit."""
        self.order = getattr(view, "order", DEFAULT_SYNC_ORDER)
        self.start(request)
        page = queryset.page(self.order, self.page_size, after=self.position(request))
        self.following = page.next
        return page.rows

    def parse(self, text: str) -> SyncCursor | None:
        return SyncCursor.parse(text, self.order)

    def write(self, position: SyncCursor) -> str:
        return str(position)


class LogPagination(KeysetPagination):
    """Log entries newest first, through LogEntryQuerySet.page() and LogCursor,
    as the Logs tab and the sync page read them (index log_time, log_mapping_time
    or log_sync_time)."""

    def parse(self, text: str) -> LogCursor | None:
        return LogCursor.parse(text)

    def write(self, position: LogCursor) -> str:
        return str(position)

    def position_of(self, row: LogEntry) -> LogCursor:
        return LogCursor(row.timestamp, row.pk)

    def fetch(self, queryset: QuerySet, position: LogCursor | None, count: int) -> list:
        page, _ = queryset.page(position, count)
        return page


class IdPagination(KeysetPagination):
    """Newest first by id (operations): a position is the last id."""

    def parse(self, text: str) -> int | None:
        return parse_id(text)

    def write(self, position: int) -> str:
        return str(position)

    def position_of(self, row) -> int:
        return row.pk

    def fetch(self, queryset: QuerySet, position: int | None, count: int) -> list:
        ordered = queryset.order_by("-pk")
        return list((ordered.filter(pk__lt=position) if position is not None else ordered)[:count])
