"""The text search of the Syncs tab: which syncs have
the text in their title, either artifact key or error message. Three characters or
more are looked up in the search index the database keeps (derived/schema.py);
fewer cannot use a trigram index, and are a scan."""

from django.db import connection as default_connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from synchronizations.derived.schema import FTS, SEARCHED, SYNC

# Fewer characters than a trigram cannot use the search index.
MIN_INDEXED_LENGTH = 3


def search(queryset: QuerySet, text: str) -> QuerySet:
    """``queryset`` (of Synchronization) narrowed to the syncs whose title, left or
    right key, or error message contains ``text``, case-insensitively and literally
    (quotes, ``%`` and ``_`` are plain characters). From the index for 3 characters
    or more; an icontains scan of those columns for fewer. ``text`` is used as
    given (the caller strips it); an empty text matches every sync."""
    if len(text) < MIN_INDEXED_LENGTH:
        return queryset.filter(_scan(text))
    sql, params = _indexed(text)
    return queryset.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611  (text is a parameter)


def _scan(text: str) -> Q:
    condition = Q()
    for column in SEARCHED:
        condition |= Q(**{f"{column}__icontains": text})
    return condition


def _indexed(text: str, connection=default_connection) -> tuple[str, list]:
    """SQL (and params) selecting the syncs that contain ``text`` from the index."""
    if connection.vendor == "sqlite":
        phrase = '"' + text.replace('"', '""') + '"'
        return f"{SYNC}.id IN (SELECT rowid FROM {FTS} WHERE {FTS} MATCH %s)", [phrase]
    # The PostgreSQL search table holds upper(title || ' ' || keys || ' ' || message).
    escaped = text.upper().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{SYNC}.id IN (SELECT sync_id FROM {FTS} WHERE text LIKE %s)", [f"%{escaped}%"]
