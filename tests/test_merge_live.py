"""The field-level merge against the live trackers (issue 14): a sandbox on the left,
Roundup or Redmine on the right, processed in this process (no worker: the engine
is what is under test). Skips where a tracker is not installed; CI fails instead."""

import httpx
import pytest
from django.utils import timezone

from synchronizations import operations
from synchronizations.connectors import connector_for
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.models import Mapping, Operation, Repository, Synchronization, SyncStatus
from tests.harness_redmine import redmine_repository
from tests.harness_roundup import create_keyword, roundup_admin, roundup_connector

pytestmark = [pytest.mark.live, pytest.mark.django_db]

ROUNDUP_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "priority", "right": "priority", "direction": "both", "values": {"High": "urgent", "Low": "wish"}},
    {"left": "status", "right": "status", "direction": "both", "values": {"Open": "unread", "Talk": "chatting"}},
]
REDMINE_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "priority", "right": "priority", "direction": "both"},
    {"left": "status", "right": "status", "direction": "both"},
]


def process_pending() -> None:
    for sync in Synchronization.objects.filter(status=SyncStatus.PENDING):
        process.process_sync(sync.pk, f"job-{sync.pk}-{timezone.now().timestamp()}")


def round_trip(mapping) -> None:
    detect_changes(mapping.pk)
    process_pending()


def edit(connector, key, **fields) -> None:
    connector.update(key, fields, connector.get(key).version)


def pair(mapping, left, fields) -> tuple[Synchronization, str, str]:
    artifact = left.create("", fields)
    round_trip(mapping)
    sync = Synchronization.objects.get(mapping=mapping, left_key=artifact.key)
    assert sync.status == SyncStatus.OK, sync.error_message
    return sync, artifact.key, sync.right_key


@pytest.fixture
def roundup_mapping(roundup_server, unique_name):
    create_keyword(roundup_server, unique_name)
    sandbox = Repository.objects.create(name="Sandbox", kind="sandbox", settings={"key_prefix": "SB"})
    roundup = roundup_connector(roundup_server, "Roundup").repository
    mapping = Mapping.objects.create(
        name="Sandbox ↔ Roundup", left=sandbox, right=roundup, right_scope=unique_name, field_map=ROUNDUP_MAP
    )
    return mapping, connector_for(sandbox), connector_for(roundup)


def test_roundup_edits_of_different_fields_on_both_sides_both_survive(roundup_mapping):
    mapping, left, right = roundup_mapping
    sync, left_key, right_key = pair(mapping, left, {"title": "Crash", "priority": "High", "status": "Open"})
    edit(left, left_key, title="Crash on save")
    edit(right, right_key, priority="wish")
    round_trip(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert right.get(right_key).fields["title"] == "Crash on save"
    assert right.get(right_key).fields["priority"] == "wish"
    assert left.get(left_key).fields["priority"] == "Low"


def test_roundup_conflict_raises_an_error_and_resolve_writes_the_chosen_side(roundup_mapping, operator):
    mapping, left, right = roundup_mapping
    mapping.conflict_policy = Mapping.ConflictPolicy.ERROR
    mapping.save()
    sync, left_key, right_key = pair(mapping, left, {"title": "Crash", "priority": "High", "status": "Open"})
    edit(left, left_key, title="Left title", status="Talk")
    edit(right, right_key, title="Right title")
    round_trip(mapping)
    sync.refresh_from_db()
    assert (sync.status, sync.error_context["kind"]) == ("error", "conflict")
    assert right.get(right_key).fields["status"] == "chatting"  # the unconflicted field was carried
    operations.perform(
        Operation.Action.RESOLVE, [sync.pk], user=operator, parameters={"choices": {"title|title": "left"}}
    )
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert right.get(right_key).fields["title"] == left.get(left_key).fields["title"] == "Left title"


def test_roundup_field_the_tracker_does_not_have_is_an_error_not_a_blank(roundup_mapping):
    mapping, left, _right = roundup_mapping
    sync, left_key, right_key = pair(mapping, left, {"title": "Crash", "priority": "High", "status": "Open"})
    mapping.field_map = [*ROUNDUP_MAP, {"left": "component", "right": "no_such_property", "direction": "both"}]
    mapping.save()
    edit(left, left_key, component="UI")
    round_trip(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert (
        sync.error_message == f"Field 'no_such_property' is not in {right_key} in 'Roundup' (renamed or deleted there?)"
    )


def test_roundup_retired_issue_is_a_deleted_artifact_and_recreate_makes_a_new_one(
    roundup_mapping, roundup_server, operator
):
    mapping, left, right = roundup_mapping
    sync, left_key, right_key = pair(mapping, left, {"title": "Crash", "priority": "High", "status": "Open"})
    with roundup_admin(roundup_server) as admin:
        etag = admin.get(f"data/issue/{right_key.removeprefix('issue')}").json()["data"]["@etag"]
        admin.delete(f"data/issue/{right_key.removeprefix('issue')}", headers={"If-Match": etag}).raise_for_status()
    edit(left, left_key, title="Edited")
    round_trip(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR, sync.error_message
    assert sync.error_context == {"kind": "deleted", "side": "right", "key": right_key, "repository": "Roundup"}
    operations.perform(Operation.Action.RECREATE, [sync.pk], user=operator)
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert sync.right_key != right_key
    assert right.get(sync.right_key).fields["title"] == "Edited"


@pytest.fixture
def redmine_mapping(redmine_server, redmine_project):
    sandbox = Repository.objects.create(name="Sandbox", kind="sandbox", settings={"key_prefix": "SB"})
    redmine = redmine_repository(redmine_server, name="Redmine")
    mapping = Mapping.objects.create(
        name="Sandbox ↔ Redmine",
        left=sandbox,
        right=redmine,
        right_scope=redmine_project["identifier"],
        field_map=REDMINE_MAP,
    )
    return mapping, connector_for(sandbox), connector_for(redmine)


def test_redmine_edits_of_different_fields_on_both_sides_both_survive(redmine_mapping):
    mapping, left, right = redmine_mapping
    sync, left_key, right_key = pair(mapping, left, {"title": "Crash", "priority": "Normal", "status": "New"})
    edit(left, left_key, title="Crash on save")
    edit(right, right_key, priority="High")
    round_trip(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert right.get(right_key).fields["title"] == "Crash on save"
    assert right.get(right_key).fields["priority"] == "High"
    assert left.get(left_key).fields["priority"] == "High"


def test_redmine_deleted_issue_is_a_deleted_artifact_and_unlink_keeps_the_other_side(
    redmine_mapping, redmine_server, operator
):
    mapping, left, _right = redmine_mapping
    sync, left_key, right_key = pair(mapping, left, {"title": "Crash", "priority": "Normal", "status": "New"})
    response = httpx.delete(
        f"{redmine_server.base_url}issues/{right_key.lstrip('#')}.json",
        headers={"X-Redmine-API-Key": redmine_server.api_key},
        timeout=30,
    )
    response.raise_for_status()
    edit(left, left_key, title="Edited")
    round_trip(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message.startswith(f"{right_key} was deleted in 'Redmine'")
    operations.perform(Operation.Action.UNLINK, [sync.pk], user=operator)
    sync.refresh_from_db()
    assert (sync.status, sync.right_key) == (SyncStatus.IGNORED, "")
    edit(left, left_key, title="Edited again")
    assert detect_changes(mapping.pk).created == 0
    assert left.get(left_key).fields["title"] == "Edited again"  # nothing deleted on the remaining side
