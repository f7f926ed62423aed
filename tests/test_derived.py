"""The counts per (mapping, status) and the search index that the database keeps
(synchronizations/derived/schema.py) and the search that reads them
(synchronizations/search.py): exact after every kind of write, on SQLite and on
PostgreSQL, and back after a migration rebuilds the table."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count

from synchronizations import operations
from synchronizations.derived import schema
from synchronizations.models import SyncCount, Synchronization, SyncStatus
from synchronizations.search import search
from tests import factories

pytestmark = pytest.mark.django_db


def grouped() -> dict[tuple[int, str], int]:
    rows = Synchronization.objects.order_by().values_list("mapping_id", "status").annotate(n=Count("pk"))
    return {(mapping_id, status): n for mapping_id, status, n in rows}


def kept() -> dict[tuple[int, str], int]:
    return {(row.mapping_id, row.status): row.n for row in SyncCount.objects.all() if row.n}


def keys(text: str) -> set[str]:
    return set(search(Synchronization.objects.all(), text).values_list("left_key", flat=True))


@pytest.fixture
def two_mappings():
    web, mobile = factories.mapping("Web"), factories.mapping("Mobile")
    for number in range(6):
        factories.sync(web, f"WEB-{number}", SyncStatus.ERROR if number % 2 else SyncStatus.OK)
    for number in range(3):
        factories.sync(mobile, f"MOB-{number}", SyncStatus.PENDING)
    return web, mobile


def test_counts_follow_inserts_updates_and_deletes(two_mappings, operator):
    web, mobile = two_mappings
    assert kept() == grouped() == {(web.pk, "ok"): 3, (web.pk, "error"): 3, (mobile.pk, "pending"): 3}

    errors = list(Synchronization.objects.filter(status=SyncStatus.ERROR).values_list("pk", flat=True))
    operations.perform("clear", errors, user=operator)  # a set-based UPDATE
    assert kept() == grouped()
    assert SyncCount.objects.filter(mapping=web).by_status() == {"ok": 6}

    sync = Synchronization.objects.filter(mapping=mobile).first()
    sync.mapping, sync.status = web, SyncStatus.IGNORED  # a save() that moves it
    sync.save()
    Synchronization.objects.filter(mapping=mobile).update(title="only the title")  # counts untouched
    Synchronization.objects.filter(left_key="WEB-0").delete()
    assert kept() == grouped()
    assert SyncCount.objects.by_status() == {"ok": 5, "ignored": 1, "pending": 2}


def test_rebuild_recounts_from_scratch(two_mappings):
    SyncCount.objects.update(n=99)
    schema.rebuild()
    assert kept() == grouped()


def test_search_finds_substrings_in_any_searched_column(two_mappings):
    web, _ = two_mappings
    factories.sync(web, "WEB-77", SyncStatus.ERROR, title="Checkout broken", error_message="Gateway Timeout at 5 s")
    found = {text: keys(text) for text in ("eway tim", "CHECKOUT", "WEB-77", "RWEB-7")}
    assert found == {"eway tim": {"WEB-77"}, "CHECKOUT": {"WEB-77"}, "WEB-77": {"WEB-77"}, "RWEB-7": {"WEB-77"}}
    # Edits and deletes reach the index.
    Synchronization.objects.filter(left_key="WEB-77").update(error_message="")
    assert keys("eway tim") == set()
    Synchronization.objects.filter(left_key="WEB-77").delete()
    assert keys("CHECKOUT") == set()


def test_a_text_shorter_than_a_trigram_is_found_by_a_scan(two_mappings, django_assert_num_queries):
    web, _ = two_mappings
    factories.sync(web, "WEB-88", title="Tab order", error_message="Bad id x7")
    found = search(Synchronization.objects.all(), "x7")
    assert schema.FTS not in str(found.query)  # the index cannot answer it
    with django_assert_num_queries(1):
        assert set(found.values_list("left_key", flat=True)) == {"WEB-88"}
    assert keys("AB") == {"WEB-88"}  # case-insensitive, in the title
    assert keys("-8") == {"WEB-88"}  # in a key


def test_quotes_and_wildcards_are_searched_literally(two_mappings):
    web, _ = two_mappings
    factories.sync(web, "WEB-90", title='50% of "quoted" text_here')
    for text in ('"quoted"', "50%", "t_h", '% of "'):
        assert keys(text) == {"WEB-90"}, text


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds a table to alter it; PostgreSQL does not")
def test_triggers_come_back_after_a_table_rebuild(two_mappings):
    """A migration that rebuilds the sync table on SQLite drops its triggers; the
    post_migrate hook puts them back and recounts."""
    web, _ = two_mappings
    with connection.cursor() as cursor:
        for name in ("sync_count_insert", "sync_search_insert"):
            cursor.execute(f"DROP TRIGGER {name}")
    factories.sync(web, "WEB-LOST")  # made while the triggers are gone
    call_command("migrate", verbosity=0)
    assert kept() == grouped()
    assert keys("WEB-LOST") == {"WEB-LOST"}


def test_the_command_recounts(two_mappings):
    SyncCount.objects.update(n=0)
    out = StringIO()
    call_command("rebuild_sync_counts", stdout=out)
    assert kept() == grouped()
    assert "Recounted 9 syncs" in out.getvalue()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the search table of PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_truncating_the_syncs_empties_the_search_table(two_mappings):
    """Django's flush truncates the sync table: the search text goes with it."""
    assert keys("WEB-1") == {"WEB-1"}
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {schema.SYNC} CASCADE")
        cursor.execute(f"SELECT count(*) FROM {schema.FTS}")  # noqa: S608  (a constant)
        assert cursor.fetchone()[0] == 0
