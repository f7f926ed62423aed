"""The sync detail page and the operation page."""

import pytest
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains

from synchronizations import operations
from synchronizations.models import SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def error_sync():
    sync = factories.sync(factories.mapping(), "WEB-7", SyncStatus.ERROR, error_detail="HTTP/1.1 400 Bad Request")
    for minute in range(60):
        factories.log(sync, f"entry {minute}", minutes_ago=minute)
    return sync


def test_shows_the_sync_its_artifacts_error_and_newest_logs_first(client_as, viewer, error_sync):
    response = client_as(viewer).get(f"/sync/syncs/{error_sync.pk}/")
    assertContains(response, "Web ↔ QA")
    assertContains(response, '<a href="https://left.example/WEB-7" target="_blank" rel="noopener">WEB-7</a>', html=True)
    assertContains(
        response, '<a href="https://right.example/RWEB-7" target="_blank" rel="noopener">RWEB-7</a>', html=True
    )
    assertContains(response, escape(error_sync.error_message))
    assertContains(response, "HTTP/1.1 400 Bad Request")
    assertContains(response, "60 entries, newest first")
    page = [entry.message for entry in response.context["logs"]]
    assert page[:2] == ["entry 0", "entry 1"] and len(page) == 50
    older = client_as(viewer).get(f"/sync/syncs/{error_sync.pk}/", {"page": 2})
    assert [entry.message for entry in older.context["logs"]] == [f"entry {n}" for n in range(50, 60)]


def test_in_error_its_menu_offers_retry_and_both_clear_actions(client_as, operator, error_sync):
    response = client_as(operator).get(f"/sync/syncs/{error_sync.pk}/")
    for label in ("Retry", "Clear Error", "Clear Error and Ignore Changes"):
        assertContains(response, f">{label}</button>")


def test_not_in_error_its_menu_offers_retry_alone(client_as, operator):
    sync = factories.sync(factories.mapping(), "WEB-8")
    response = client_as(operator).get(f"/sync/syncs/{sync.pk}/")
    assertContains(response, ">Retry</button>")
    assertNotContains(response, "Clear Error")


def test_an_unknown_sync_is_a_404_page(client_as, viewer):
    response = client_as(viewer).get("/sync/syncs/424242/")
    assertContains(response, "Not found", status_code=404)


def test_a_bad_log_page_gives_the_page_with_a_message(client_as, viewer, error_sync):
    response = client_as(viewer).get(f"/sync/syncs/{error_sync.pk}/", {"page": "last"})
    assertContains(response, "The page &#x27;last&#x27; was ignored")


def test_the_detail_page_query_count_does_not_grow_with_its_log(
    client_as, viewer, error_sync, django_assert_max_num_queries
):
    client = client_as(viewer)
    with django_assert_max_num_queries(7):
        client.get(f"/sync/syncs/{error_sync.pk}/")


def test_the_operation_page_polls_until_the_operation_finishes(client_as, operator, error_sync):
    selection = operations.select_ids([error_sync.pk])
    operation = operations.submit("retry", selection, user=operator)  # queued: not run yet
    client = client_as(operator)
    page = client.get(f"/sync/operations/{operation.pk}/")
    assertContains(page, "Queued")
    assertContains(page, 'hx-trigger="every 1s"')
    operations.run(operation.pk)
    partial = client.get(f"/sync/operations/{operation.pk}/", headers={"HX-Request": "true"})
    assertContains(partial, "Finished")
    assertContains(partial, "1 done, 0 skipped, of 1")
    assertNotContains(partial, "hx-trigger")
    assertNotContains(partial, "<header")
