"""POST /sync/syncs/actions/: the bulk actions behind the gear menu."""

import html
import re

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertRedirects

from synchronizations.models import LogEntry, Operation, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/sync/syncs/actions/"


@pytest.fixture
def data():
    web = factories.mapping()
    return {
        "ok": factories.sync(web, "WEB-1"),
        "error": factories.sync(web, "WEB-2", SyncStatus.ERROR),
        "error2": factories.sync(web, "WEB-3", SyncStatus.ERROR),
        "mapping": web,
    }


@pytest.fixture
def op(client_as, operator):
    return client_as(operator)


def confirmation_form(response) -> dict:
    """The fields the confirmation page posts back (what a browser sends on Confirm)."""
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', response.content.decode()):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(html.unescape(value))
    return fields


def status(sync):
    return Synchronization.objects.get(pk=sync.pk).status


def test_retry_submits_an_operation_and_shows_it(op, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(URL, {"action": "retry", "ids": [data["ok"].pk, data["error"].pk]})
    operation = Operation.objects.get()
    assertRedirects(response, f"/sync/operations/{operation.pk}/", fetch_redirect_response=False)
    operation.refresh_from_db()
    assert (operation.action, operation.total, operation.state, operation.requested_by.username) == (
        "retry", 2, "finished", "operator"
    )  # fmt: skip
    page = op.get(response["Location"])
    assertContains(page, "Finished")
    assertContains(page, "Retry: operation")
    assert LogEntry.objects.filter(operation=operation, actor="operator").count() == 2


def test_clear_errors_from_the_list(op, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        op.post(URL, {"action": "clear_ignore", "ids": [data["error"].pk, data["error2"].pk]})
    assert status(data["error"]) == status(data["error2"]) == SyncStatus.IGNORED


def test_clear_is_refused_on_the_server_when_one_selected_sync_is_not_in_error(op, data):
    response = op.post(URL, {"action": "clear", "ids": [data["error"].pk, data["ok"].pk]})
    assertRedirects(response, "/sync/syncs/", fetch_redirect_response=False)
    assertContains(op.get("/sync/syncs/"), "1 of the selected syncs is not in error")
    assert status(data["error"]) == SyncStatus.ERROR
    assert not Operation.objects.exists()


def test_unknown_ids_are_reported_not_fatal(op, data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(URL, {"action": "clear", "ids": [data["error"].pk, 999999, "x"]}, follow=True)
    assertContains(response, "2 selected id(s) match no sync and were left out: 999999, x.")
    assert status(data["error"]) == SyncStatus.OK


def test_nothing_selected_says_so(op, data):
    response = op.post(URL, {"action": "retry"}, follow=True)
    assertContains(response, "No sync is selected.")


def test_an_unknown_action_is_refused(op, data):
    response = op.post(URL, {"action": "delete", "ids": [data["ok"].pk]}, follow=True)
    assertContains(response, "Unknown action &#x27;delete&#x27;.")
    assert Synchronization.objects.count() == 3


def test_a_viewer_is_refused(client_as, viewer, data):
    response = client_as(viewer).post(URL, {"action": "retry", "ids": [data["ok"].pk]})
    assert response.status_code == 403
    assert status(data["ok"]) == SyncStatus.OK


def test_an_anonymous_post_is_sent_to_login(client, data):
    response = client.post(URL, {"action": "retry", "ids": [data["ok"].pk]})
    assertRedirects(response, f"/sync/login/?next={URL}", fetch_redirect_response=False)
    assert not Operation.objects.exists()


def test_a_get_is_refused(op, data):
    assert op.get(URL, {"action": "retry", "ids": data["ok"].pk}).status_code == 405


def test_a_post_without_csrf_token_is_refused(operator, data):
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(URL, {"action": "retry", "ids": [data["ok"].pk]}).status_code == 403
    assert not Operation.objects.exists()


def test_more_than_100_asks_for_confirmation_first(op, data, django_capture_on_commit_callbacks):
    ids = [factories.sync(data["mapping"], f"BULK-{n}").pk for n in range(101)]
    response = op.post(URL, {"action": "retry", "ids": ids})
    assertContains(response, "Retry 101 syncs?")
    assert not Operation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        op.post(URL, {"action": "retry", "ids": ids, "confirmed": "1"})
    assert Operation.objects.get().done == 101


def test_all_matching_confirms_then_acts_on_the_snapshot(op, data, django_capture_on_commit_callbacks):
    form = {"action": "clear", "select_all": "1", "status": "error", "mapping": "", "q": ""}
    response = op.post(URL, form)
    assertContains(response, "Clear Errors 2 syncs?")
    assertContains(response, "every sync matching the filters now")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        op.post(URL, confirmation_form(response))
    # Between the submit and the worker: another sync falls into error.
    Synchronization.objects.filter(pk=data["ok"].pk).update(status=SyncStatus.ERROR)
    for callback in callbacks:
        callback()
    assert status(data["error"]) == status(data["error2"]) == SyncStatus.OK
    assert status(data["ok"]) == SyncStatus.ERROR  # not touched
    operation = Operation.objects.get()
    assert (operation.total, operation.filter_params) == (2, {"status": "error"})


def test_all_matching_asks_again_when_the_set_changed_before_the_confirmation(op, data):
    response = op.post(URL, {"action": "clear", "select_all": "1", "status": "error"})
    assertContains(response, "Clear Errors 2 syncs?")
    # Before the operator confirms, one of the two is cleared by someone else.
    Synchronization.objects.filter(pk=data["error2"].pk).update(status=SyncStatus.OK)
    again = op.post(URL, confirmation_form(response))
    assertContains(again, "2 matched then, 1 match now. Nothing was changed")
    assertContains(again, "Clear Errors 1 syncs?")
    assert not Operation.objects.exists()
    op.post(URL, confirmation_form(again))
    assert Operation.objects.get().total == 1


def test_a_sync_created_after_the_confirmation_page_is_not_swept_in(op, data):
    response = op.post(URL, {"action": "clear", "select_all": "1", "status": "error"})
    factories.sync(data["mapping"], "WEB-9", SyncStatus.ERROR)  # newer than the bound shown
    op.post(URL, confirmation_form(response))
    assert Operation.objects.get().total == 2


def test_confirmed_without_the_confirmation_pages_fingerprint_asks_first(op, data):
    response = op.post(URL, {"action": "clear", "select_all": "1", "status": "error", "confirmed": "1"})
    assertContains(response, "Clear Errors 2 syncs?")
    assert not Operation.objects.exists()


def test_all_matching_clear_is_refused_when_the_filter_matches_syncs_not_in_error(op, data):
    response = op.post(URL, {"action": "clear", "select_all": "1", "status": "", "confirmed": "1"}, follow=True)
    assertContains(response, "1 of the selected syncs is not in error")
    assert not Operation.objects.exists()


def test_all_matching_with_a_bad_filter_changes_nothing(op, data):
    response = op.post(URL, {"action": "retry", "select_all": "1", "status": "nope", "confirmed": "1"}, follow=True)
    assertContains(response, "The status filter &#x27;nope&#x27; was ignored")
    assert not Operation.objects.exists()


def test_next_brings_the_operator_back_and_refuses_other_sites(op, data, django_capture_on_commit_callbacks):
    detail = f"/sync/syncs/{data['ok'].pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(URL, {"action": "retry", "ids": [data["ok"].pk], "next": detail})
    assertRedirects(response, detail, fetch_redirect_response=False)
    response = op.post(URL, {"action": "retry", "ids": [data["ok"].pk], "next": "https://evil.example/"})
    assert response["Location"].startswith("/sync/operations/")


def test_the_pages_select_all_0_means_the_checked_ids_only(op, data, django_capture_on_commit_callbacks):
    form = {"action": "retry", "select_all": "0", "status": "error", "mapping": "", "q": "", "pattern": ""}
    with django_capture_on_commit_callbacks(execute=True):
        response = op.post(URL, {**form, "ids": [data["error"].pk]})
    assert response.status_code == 302
    assert Operation.objects.get().total == 1
