"""The sync page's conflict and deleted-artifact panels, and the Resolve form: who
may act, what a bad choice does (nothing, and says so), never a 500."""

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from synchronizations import operations
from synchronizations.models import LogEntry, Operation, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db

CONFLICT = {
    "kind": "conflict",
    "fields": [
        {
            "rule": "title|title",
            "left_field": "title",
            "right_field": "title",
            "left_value": "Left",
            "right_value": "Right",
        },
        {
            "rule": "priority|severity",
            "left_field": "priority",
            "right_field": "severity",
            "left_value": "High",
            "right_value": None,
        },
    ],
}


def failed(context, message="Conflict: title, priority ↔ severity changed on both sides; choose a side per field"):
    sync = factories.sync(factories.mapping(), "WEB-7", SyncStatus.OK)
    Synchronization.objects.filter(pk=sync.pk).fail(message, now=timezone.now(), context=context)
    sync.refresh_from_db()
    return sync


def shown(sync, **choices) -> dict:
    """The Resolve form as the sync's page posts it: the choices, and the digest of
    the conflict the page showed."""
    from synchronizations.views import _conflicts, conflict_digest

    return {"conflict": conflict_digest(_conflicts(sync)), **choices}


@pytest.fixture
def conflicted():
    return failed(CONFLICT)


@pytest.fixture
def deleted():
    context = {"kind": "deleted", "side": "right", "key": "RWEB-7", "repository": "QA"}
    return failed(context, "RWEB-7 was deleted in 'QA' (or our account can no longer see it)")


def test_the_conflict_shows_both_values_per_field_with_a_choice(client_as, operator, conflicted):
    response = client_as(operator).get(f"/sync/syncs/{conflicted.pk}/")
    assertContains(response, 'data-testid="conflict-form"')
    assertContains(response, "priority ↔ severity")
    for index in (0, 1):
        assertContains(response, f'name="choice_{index}" value="left"')
        assertContains(response, f'name="choice_{index}" value="right"')
    assertContains(response, "(empty)")  # a None value
    assertContains(response, ">Resolve</button>")


def test_a_viewer_sees_the_conflict_but_cannot_resolve(client_as, viewer, conflicted):
    client = client_as(viewer)
    response = client.get(f"/sync/syncs/{conflicted.pk}/")
    assertContains(response, "priority ↔ severity")
    assertNotContains(response, ">Resolve</button>")
    assert (
        client.post(
            f"/sync/syncs/{conflicted.pk}/resolve/", shown(conflicted, choice_0="left", choice_1="left")
        ).status_code
        == 403
    )
    assert not Operation.objects.exists()


def test_resolving_records_an_operation_and_queues_the_sync(client_as, operator, conflicted):
    response = client_as(operator).post(
        f"/sync/syncs/{conflicted.pk}/resolve/", shown(conflicted, choice_0="right", choice_1="left"), follow=True
    )
    assertContains(response, "Resolve conflict: operation #")
    operation = Operation.objects.get()
    assert (operation.action, operation.parameters) == (
        "resolve",
        {"choices": {"title|title": "right", "priority|severity": "left"}},
    )
    operations.run(operation.pk)  # what the worker does with the job
    conflicted.refresh_from_db()
    assert conflicted.status == SyncStatus.PENDING
    assert conflicted.error_context["choices"] == {"title|title": "right", "priority|severity": "left"}
    assert LogEntry.objects.filter(sync=conflicted, actor="operator", message__startswith="Conflict resolved").exists()


@pytest.mark.parametrize(
    "data",
    [{}, {"choice_0": "right"}, {"choice_0": "right", "choice_1": "middle"}, {"choice_0": "\x00", "choice_1": "²"}],
)
def test_a_missing_or_unknown_choice_changes_nothing_and_says_so(client_as, operator, conflicted, data):
    response = client_as(operator).post(f"/sync/syncs/{conflicted.pk}/resolve/", shown(conflicted, **data), follow=True)
    assert response.status_code == 200
    assertContains(response, "Choose the left or the right value for every field")
    conflicted.refresh_from_db()
    assert conflicted.status == SyncStatus.ERROR and not Operation.objects.exists()


def test_resolving_a_sync_not_in_conflict_is_refused(client_as, operator, deleted):
    response = client_as(operator).post(f"/sync/syncs/{deleted.pk}/resolve/", {"choice_0": "left"}, follow=True)
    assertContains(response, "is not in conflict")
    assert client_as(operator).post("/sync/syncs/99999999/resolve/", {"choice_0": "left"}).status_code == 404
    assert client_as(operator).get(f"/sync/syncs/{deleted.pk}/resolve/").status_code == 405


def test_a_deleted_artifact_offers_recreate_and_unlink(client_as, operator, deleted):
    client = client_as(operator)
    response = client.get(f"/sync/syncs/{deleted.pk}/")
    assertContains(response, "RWEB-7 was deleted in 'QA'. Nothing is ever deleted by syncweb")
    assertContains(response, 'value="recreate"')
    assertContains(response, 'value="unlink"')
    client.post("/sync/syncs/actions/", {"ids": [deleted.pk], "action": "unlink"})
    operations.run(Operation.objects.get(action="unlink").pk)  # what the worker does with the job
    deleted.refresh_from_db()
    assert (deleted.status, deleted.right_key) == (SyncStatus.IGNORED, "")
    response = client.get(f"/sync/syncs/{deleted.pk}/")
    assertContains(response, "Unlinked: RWEB-7 was deleted in")


def test_recreate_and_unlink_on_syncs_without_a_deletion_are_refused_in_words(client_as, operator, conflicted):
    for action in ("recreate", "unlink"):
        response = client_as(operator).post(
            "/sync/syncs/actions/", {"ids": [conflicted.pk], "action": action}, follow=True
        )
        assertContains(response, "applies only to syncs whose artifact was deleted")
    conflicted.refresh_from_db()
    assert conflicted.status == SyncStatus.ERROR and not Operation.objects.exists()


def test_resolve_is_not_a_bulk_action_of_the_syncs_tab(client_as, operator, conflicted):
    response = client_as(operator).post(
        "/sync/syncs/actions/", {"ids": [conflicted.pk], "action": "resolve"}, follow=True
    )
    assertContains(response, "Unknown action")
    assert not Operation.objects.exists()


def test_a_choice_made_on_a_page_the_conflict_changed_since_is_refused(client_as, operator, conflicted):
    """Found by a user trial: the conflict moved from the title to the description
    after the page was shown, and its choice_0 was applied to the description."""
    page = client_as(operator).get(f"/sync/syncs/{conflicted.pk}/").content.decode()
    digest = shown(conflicted)["conflict"]
    assert f'name="conflict" value="{digest}"' in page
    now = {"kind": "conflict", "fields": [{**CONFLICT["fields"][1], "left_value": "Low"}]}  # one field, other values
    Synchronization.objects.filter(pk=conflicted.pk).update(error_context=now)
    response = client_as(operator).post(
        f"/sync/syncs/{conflicted.pk}/resolve/", {"conflict": digest, "choice_0": "left"}, follow=True
    )
    assertContains(response, "The conflict changed since the page was shown")
    assert not Operation.objects.exists()
    missing = client_as(operator).post(f"/sync/syncs/{conflicted.pk}/resolve/", {"choice_0": "left"}, follow=True)
    assertContains(missing, "The conflict changed since the page was shown")
    assert not Operation.objects.exists()
