"""CSV exports of the Syncs and Logs tabs: every matching row, streamed, formulas neutralised."""

import csv
import io
import re
import tracemalloc
from datetime import UTC, datetime

import pytest
from django.http import StreamingHttpResponse

from synchronizations import exports
from synchronizations.models import LogEntry, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


def rows_of(response) -> list[list[str]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    body = b"".join(response.streaming_content)
    assert body.startswith("\ufeff".encode()), "every CSV starts with a UTF-8 BOM (for Excel)"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def web():
    return factories.mapping("Web ↔ QA")


def test_the_syncs_export_has_every_matching_sync_not_only_the_page(client_as, viewer, web):
    for n in range(130):
        factories.sync(web, f"WEB-{n}", SyncStatus.ERROR if n % 2 else SyncStatus.OK)
    rows = rows_of(client_as(viewer).get("/sync/syncs/", {"status": "error", "export": "csv", "per_page": "25"}))
    assert rows[0] == list(exports.SYNC_COLUMNS)
    assert len(rows) == 1 + 65
    assert {row[1] for row in rows[1:]} == {"error"}


def test_the_syncs_export_has_the_columns_shown_plus_id_urls_and_error_kind(client_as, viewer, web):
    sync = factories.sync(web, "WEB-1", SyncStatus.ERROR, error_message="HTTP 401 token expired")
    Synchronization.objects.filter(pk=sync.pk).update(last_processed_at=datetime(2026, 11, 28, 14, 5, 59, tzinfo=UTC))
    conflict = factories.sync(web, "WEB-2", SyncStatus.ERROR)
    Synchronization.objects.filter(pk=conflict.pk).update(error_context={"kind": "conflict", "fields": []})
    rows = {row[0]: row for row in rows_of(client_as(viewer).get("/sync/syncs/", {"export": "csv"}))[1:]}
    assert rows[str(sync.pk)] == [
        str(sync.pk), "error", "Web ↔ QA", "WEB-1", "https://left.example/WEB-1", "RWEB-1",
        "https://right.example/RWEB-1", "Title of WEB-1", "2026-11-28T14:05:59+00:00", "HTTP 401 token expired",
        sync.error_pattern,
    ]  # fmt: skip
    assert rows[str(conflict.pk)][-1] == "conflict"


def test_the_export_follows_the_sort_of_the_page(client_as, viewer, web):
    for key, title in (("A", "b"), ("B", "c"), ("C", "a")):
        factories.sync(web, key, title=title)
    rows = rows_of(client_as(viewer).get("/sync/syncs/", {"export": "csv", "sort": "-title"}))
    assert [row[3] for row in rows[1:]] == ["B", "A", "C"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_neutralised(client_as, viewer, web, start):
    formula = f'{start}HYPERLINK("http://evil.example","click")'
    factories.sync(web, "WEB-1", title=formula)
    LogEntry.objects.create(message=formula, mapping=web)
    syncs = rows_of(client_as(viewer).get("/sync/syncs/", {"export": "csv"}))
    assert syncs[1][7] == "'" + formula
    logs = rows_of(client_as(viewer).get("/sync/logs/", {"export": "csv"}))
    assert logs[1][3] == "'" + formula


def test_ordinary_cells_are_left_alone():
    assert exports.neutralise("Login slow") == "Login slow"
    assert exports.neutralise("a=b") == "a=b"
    assert exports.neutralise(None) == ""
    assert exports.neutralise(42) == "42"


def test_the_logs_export_follows_the_filters(client_as, viewer, web):
    sync = factories.sync(web, "WEB-1")
    factories.log(sync, "Processing failed")
    LogEntry.objects.create(message="Other", level="error")
    rows = rows_of(client_as(viewer).get("/sync/logs/", {"export": "csv", "q": "processing"}))
    assert rows[0] == list(exports.LOG_COLUMNS)
    assert [(row[3], row[4], row[5], row[6]) for row in rows[1:]] == [
        ("Processing failed", str(sync.pk), "Web ↔ QA", "engine")
    ]


def test_the_export_button_says_how_many_rows(client_as, viewer, web):
    for n in range(3):
        factories.sync(web, f"WEB-{n}", SyncStatus.ERROR)
    factories.sync(web, "OK-1")
    client = client_as(viewer)
    assert "Export 3 rows (CSV)" in client.get("/sync/syncs/", {"status": "error"}).content.decode()
    for n in range(3):
        LogEntry.objects.create(message=f"entry {n}")
    page = client.get("/sync/logs/").content.decode()
    assert "Export <span data-export-count>3</span> entr<span data-export-plural>ies</span>" in page
    # More than a page: the number comes from a bounded count.
    assert client.get("/sync/logs/", {"export": "count"}).json() == {"count": 3, "more": False}


def test_the_logs_count_is_bounded(client_as, viewer, monkeypatch):
    from synchronizations import views

    monkeypatch.setattr(views, "LOG_EXPORT_COUNT_LIMIT", 5)
    LogEntry.objects.bulk_create(LogEntry(message=f"entry {n}") for n in range(8))
    assert client_as(viewer).get("/sync/logs/", {"export": "count"}).json() == {"count": 5, "more": True}


def test_the_export_streams_in_bounded_memory(web, monkeypatch):
    """The rows are read a chunk at a time: memory for 6,000 syncs stays that of a
    chunk, not of the list (at a million syncs the same holds)."""
    monkeypatch.setattr(exports, "CHUNK", 200)
    Synchronization.objects.bulk_create(
        Synchronization(mapping=web, left_key=f"K-{n}", title="t" * 200, error_message="e" * 300) for n in range(6000)
    )
    from synchronizations.models import DEFAULT_SYNC_ORDER

    lines = exports.csv_lines(
        exports.SYNC_COLUMNS, exports.sync_rows(Synchronization.objects.all(), DEFAULT_SYNC_ORDER)
    )
    tracemalloc.start()
    count = 0
    try:
        for _ in lines:
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 6001
    # All 6,000 rows held at once would be over 4 MB of strings.
    assert peak < 1_500_000, peak


@pytest.fixture
def in_kathmandu(settings, client_as, viewer):
    """A viewer whose display zone is Asia/Kathmandu (+0545) on a Europe/Berlin server."""
    settings.TIME_ZONE = "Europe/Berlin"
    client = client_as(viewer)
    client.post("/sync/preferences/", {"time_zone": "Asia/Kathmandu"})
    return client


def test_the_exports_write_times_in_the_users_zone_as_the_page_shows_them(in_kathmandu, web):
    """The rows are produced while the response streams, after the request's zone
    was deactivated: they must still be in the user's zone, not the server's."""
    moment = datetime(2026, 11, 28, 14, 5, 59, tzinfo=UTC)
    sync = factories.sync(web, "WEB-1")
    Synchronization.objects.filter(pk=sync.pk).update(last_processed_at=moment)
    LogEntry.objects.filter(pk=factories.log(sync, "Processed").pk).update(timestamp=moment)
    assert "2026-11-28 19:50:59 +0545" in in_kathmandu.get("/sync/logs/").content.decode()
    syncs = rows_of(in_kathmandu.get("/sync/syncs/", {"export": "csv"}))
    assert syncs[1][8] == "2026-11-28T19:50:59+05:45"
    logs = rows_of(in_kathmandu.get("/sync/logs/", {"export": "csv"}))
    assert logs[1][1] == "2026-11-28T19:50:59+05:45"


def test_the_file_names_say_the_zone_of_their_time(in_kathmandu):
    for url, stem in (("/sync/syncs/", "syncs"), ("/sync/logs/", "logs")):
        disposition = in_kathmandu.get(url, {"export": "csv"})["Content-Disposition"]
        assert re.fullmatch(rf'attachment; filename="{stem}-\d{{8}}-\d{{6}}\+0545\.csv"', disposition), disposition


def test_non_ascii_survives_excel_the_csv_starts_with_a_bom(client_as, viewer, web):
    factories.sync(web, "WEB-1", title="Größe ↔ 日本")
    LogEntry.objects.create(message="Größe ↔ 日本", mapping=web)
    client = client_as(viewer)
    assert rows_of(client.get("/sync/syncs/", {"export": "csv"}))[1][7] == "Größe ↔ 日本"
    assert rows_of(client.get("/sync/logs/", {"export": "csv"}))[1][3] == "Größe ↔ 日本"


def test_relative_artifact_urls_are_made_absolute_with_the_requests_host(client_as, viewer, web):
    sync = factories.sync(web, "WEB-1")
    Synchronization.objects.filter(pk=sync.pk).update(
        left_url="/sync/admin/synchronizations/sandboxartifact/911/change/"
    )
    row = rows_of(client_as(viewer).get("/sync/syncs/", {"export": "csv"}, HTTP_HOST="localhost:8080"))[1]
    assert row[4] == "http://localhost:8080/sync/admin/synchronizations/sandboxartifact/911/change/"
    assert row[6] == "https://right.example/RWEB-1"  # already absolute: unchanged
