"""Field-level merge on the sandbox (issue 14): no lost update, conflicts per field,
"raise an error" with Resolve, one-way fields, missing fields, deleted artifacts."""

import pytest
from django.utils import timezone

from synchronizations import operations
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.models import LogEntry, Mapping, Operation, SandboxArtifact, Synchronization, SyncStatus
from tests.engine_fixtures import set_repository

pytestmark = pytest.mark.django_db

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "priority", "right": "severity", "direction": "both", "values": {"High": "Major", "Low": "Minor"}},
    {"left": "status", "right": "state", "direction": "both"},
    {"left": "component", "right": "area", "direction": "left_to_right"},
]


def process_pending():
    for sync in Synchronization.objects.filter(status=SyncStatus.PENDING):
        process.process_sync(sync.pk, f"job-{sync.pk}-{timezone.now().timestamp()}")


def sync_round(mapping):
    detect_changes(mapping.pk)
    process_pending()


def edit(connector, key, **fields):
    return connector.update(key, fields, connector.get(key).version)


@pytest.fixture
def linked(mapping, left, right):
    """A pair already in sync: (sync, left key, right key)."""
    mapping.field_map = FIELD_MAP
    mapping.save()
    artifact = left.create(
        "", {"title": "Crash", "priority": "High", "status": "Open", "component": "UI", "notes": "x"}
    )
    sync_round(mapping)
    sync = Synchronization.objects.get()
    assert sync.status == SyncStatus.OK, sync.error_message
    return sync, artifact.key, sync.right_key


def fields_of(connector, key):
    return connector.get(key).fields


def test_edits_of_different_fields_on_both_sides_both_survive(mapping, left, right, linked):
    sync, left_key, right_key = linked
    edit(left, left_key, title="Crash on save")
    edit(right, right_key, severity="Minor")
    sync_round(mapping)
    assert fields_of(left, left_key)["title"] == fields_of(right, right_key)["title"] == "Crash on save"
    assert fields_of(left, left_key)["priority"] == "Low"
    assert fields_of(right, right_key)["severity"] == "Minor"
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK
    assert not LogEntry.objects.filter(sync=sync, level="warning").exists()  # no conflict: different fields
    # And nothing echoes: the next round finds nothing changed.
    assert detect_changes(mapping.pk).changed == 0


def test_only_the_changed_fields_are_written(mapping, left, right, linked):
    sync, left_key, _right_key = linked
    edit(left, left_key, title="New title")
    sync_round(mapping)
    entry = LogEntry.objects.filter(sync=sync, message__startswith="Updated").latest("pk")
    assert entry.message.endswith(": title.")


@pytest.mark.parametrize(
    ("policy", "kept"),
    [(Mapping.ConflictPolicy.LEFT, "Left"), (Mapping.ConflictPolicy.RIGHT, "Right"), ("newest", "Right")],
)
def test_the_same_field_changed_on_both_sides_is_decided_per_field_and_logged(
    mapping, left, right, linked, policy, kept
):
    sync, left_key, right_key = linked
    mapping.conflict_policy = policy
    mapping.save()
    edit(left, left_key, title="Left", status="In progress")  # status: changed on the left only
    edit(right, right_key, title="Right")  # newer
    sync_round(mapping)
    assert fields_of(left, left_key)["title"] == fields_of(right, right_key)["title"] == kept
    assert fields_of(right, right_key)["state"] == "In progress"  # the other field was carried, not lost
    warning = LogEntry.objects.get(sync=sync, level="warning")
    assert f"Conflict on title: {left_key} has 'Left', {right_key} has 'Right'" in warning.message
    assert f"kept the {kept.lower()} side's {kept!r}" in warning.message


def test_both_sides_changed_to_the_same_value_is_no_conflict(mapping, left, right, linked):
    sync, left_key, right_key = linked
    mapping.conflict_policy = Mapping.ConflictPolicy.ERROR
    mapping.save()
    edit(left, left_key, priority="Low")
    edit(right, right_key, severity="Minor")  # the same, through the value map
    sync_round(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK


def test_raise_an_error_leaves_conflicting_fields_to_an_operator_who_resolves_them(
    mapping, left, right, linked, operator
):
    sync, left_key, right_key = linked
    mapping.conflict_policy = Mapping.ConflictPolicy.ERROR
    mapping.save()
    edit(left, left_key, title="Left title", priority="Low", status="Done")
    edit(right, right_key, title="Right title", severity="Major")
    sync_round(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message == "Conflict: title changed on both sides; choose a side per field"
    assert sync.error_context == {
        "kind": "conflict",
        "fields": [
            {"rule": "title|title", "left_field": "title", "right_field": "title", "left_value": "Left title",
             "right_value": "Right title"},
        ],
    }  # fmt: skip
    # The fields changed on one side only were carried meanwhile, the conflicting one left alone.
    assert fields_of(right, right_key)["state"] == "Done"
    assert fields_of(right, right_key)["severity"] == "Minor"  # priority Low was carried
    assert (fields_of(left, left_key)["title"], fields_of(right, right_key)["title"]) == ("Left title", "Right title")
    # Retry without a choice: the same conflict again, nothing written.
    operations.perform(Operation.Action.RETRY, [sync.pk], user=operator)
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR and sync.error_context["kind"] == "conflict"
    # Resolve: the right side's title.
    operation = operations.perform(
        Operation.Action.RESOLVE, [sync.pk], user=operator, parameters={"choices": {"title|title": "right"}}
    )
    assert (operation.state, operation.done, operation.parameters) == (
        "finished",
        1,
        {"choices": {"title|title": "right"}},
    )
    assert LogEntry.objects.filter(sync=sync, operation=operation, actor="operator").exists()
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert sync.error_context == {}
    assert fields_of(left, left_key)["title"] == fields_of(right, right_key)["title"] == "Right title"
    assert LogEntry.objects.filter(sync=sync, message__contains="operator's choice: kept the right side's").exists()
    assert detect_changes(mapping.pk).changed == 0


def test_resolve_is_refused_for_a_sync_not_in_conflict_and_without_a_side(linked, operator):
    sync, _, _ = linked
    with pytest.raises(operations.ActionRefused, match="not in conflict"):
        operations.perform(
            Operation.Action.RESOLVE, [sync.pk], user=operator, parameters={"choices": {"title|title": "left"}}
        )
    Synchronization.objects.filter(pk=sync.pk).fail("Conflict", now=timezone.now(), context={"kind": "conflict"})
    for choices in (None, {}, {"title|title": "middle"}, {"title": "left"}, {"1": "left"}):
        with pytest.raises(operations.ActionRefused):
            operations.perform(Operation.Action.RESOLVE, [sync.pk], user=operator, parameters={"choices": choices})
    assert not Operation.objects.exists()


def test_a_one_way_field_edited_on_its_target_is_set_back_and_said(mapping, left, right, linked):
    sync, left_key, right_key = linked
    edit(right, right_key, area="Backend")
    sync_round(mapping)
    assert fields_of(right, right_key)["area"] == "UI"
    warning = LogEntry.objects.get(sync=sync, level="warning")
    assert (
        warning.message
        == f"area of {right_key} was edited to 'Backend', but it is synced one way from 'Left': set back to 'UI'."
    )
    # and its source's edits still flow
    edit(left, left_key, component="API")
    sync_round(mapping)
    assert fields_of(right, right_key)["area"] == "API"


def test_a_field_the_source_no_longer_has_is_an_error_and_never_blanks_the_other_side(mapping, left, right, linked):
    sync, left_key, right_key = linked
    # The left tracker loses the custom field "priority" (renamed to "urgency").
    set_repository(mapping.left, fields=["title", "urgency", "status", "component", "notes"])
    edit(left, left_key, title="Edited")
    sync_round(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message == f"Field 'priority' is not in {left_key} in 'Left' (renamed or deleted there?)"
    assert fields_of(right, right_key)["severity"] == "Major"  # not blanked
    assert fields_of(right, right_key)["title"] == "Crash"  # nothing written at all


def test_a_new_artifact_missing_a_mapped_field_is_not_created_with_blanks(mapping, left, right):
    mapping.field_map = FIELD_MAP
    mapping.save()
    set_repository(mapping.left, fields=["title", "status", "component"])
    left.create("", {"title": "T", "status": "Open", "component": "UI"})
    sync_round(mapping)
    sync = Synchronization.objects.get()
    assert sync.status == SyncStatus.ERROR and "Field 'priority' is not in" in sync.error_message
    assert not SandboxArtifact.objects.filter(repository=mapping.right).exists()


def test_a_deleted_artifact_sends_its_sync_to_the_error_queue_with_its_own_kind(mapping, left, right, linked):
    sync, left_key, right_key = linked
    SandboxArtifact.objects.filter(repository=mapping.right, key=right_key).delete()
    edit(left, left_key, title="Edited")
    sync_round(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message == f"{right_key} was deleted in 'Right' (or our account can no longer see it)"
    assert sync.error_pattern == "<key> was deleted in 'Right' (or our account can no longer see it)"
    assert sync.error_context == {"kind": "deleted", "side": "right", "key": right_key, "repository": "Right"}
    assert SandboxArtifact.objects.filter(repository=mapping.left, key=left_key).exists()  # nothing deleted


def test_recreate_makes_the_deleted_artifact_again_from_the_other_side(mapping, left, right, linked, operator):
    sync, left_key, right_key = linked
    SandboxArtifact.objects.filter(repository=mapping.right, key=right_key).delete()
    edit(left, left_key, title="Edited")
    sync_round(mapping)
    operation = operations.perform(Operation.Action.RECREATE, [sync.pk], user=operator)
    assert operation.done == 1
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert sync.right_key not in ("", right_key)  # a new key, never the deleted one again
    assert fields_of(right, sync.right_key)["title"] == "Edited"
    assert LogEntry.objects.filter(sync=sync, actor="operator", message__startswith="Recreate requested").exists()


def test_unlink_keeps_the_sync_in_history_and_the_remaining_artifact_is_not_new(mapping, left, right, linked, operator):
    sync, left_key, right_key = linked
    SandboxArtifact.objects.filter(repository=mapping.right, key=right_key).delete()
    edit(left, left_key, title="Edited")
    sync_round(mapping)
    operations.perform(Operation.Action.UNLINK, [sync.pk], user=operator)
    sync.refresh_from_db()
    assert (sync.status, sync.ignore_changes, sync.left_key, sync.right_key) == ("ignored", True, left_key, "")
    assert sync.error_context["key"] == right_key
    edit(left, left_key, title="Edited again")
    detection = detect_changes(mapping.pk)
    assert (detection.created, detection.ignored) == (0, 1)
    assert Synchronization.objects.count() == 1
    assert SandboxArtifact.objects.filter(repository=mapping.right).count() == 0  # nothing recreated


def test_recreate_and_unlink_are_refused_for_syncs_without_a_deleted_artifact(linked, operator):
    sync, _, _ = linked
    for action in (Operation.Action.RECREATE, Operation.Action.UNLINK):
        with pytest.raises(operations.ActionRefused, match="deleted"):
            operations.perform(action, [sync.pk], user=operator)
    assert not Operation.objects.exists()


def test_a_created_key_is_recorded_before_the_sync_finishes(mapping, left, right, monkeypatch):
    """The echo race: the key of an artifact processing created is in the database
    (committed) before the rest of the sync is saved."""
    left.create("", {"title": "T", "status": "Open", "priority": "High"})
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    seen = {}
    real_finish = process.finish

    def finish(succeeded, token):
        seen["right_key"] = Synchronization.objects.get(pk=succeeded[0][0].pk).right_key
        return real_finish(succeeded, token)

    monkeypatch.setattr(process, "finish", finish)
    process.process_sync(sync.pk, "job-1")
    assert seen["right_key"].startswith("R-")


def test_a_failed_sync_keeps_the_versions_it_read_so_a_reread_leaves_it_in_error(mapping, left, right, linked):
    sync, left_key, right_key = linked
    set_repository(mapping.right, allowed={"severity": ["Major"]})
    edit(left, left_key, priority="Low")  # Minor: refused by the right side
    detect_changes(mapping.pk)
    edit(left, left_key, title="Edited after detection")  # processing reads a newer version than detection saw
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert (sync.left_version, sync.right_version) == (left.get(left_key).version, right.get(right_key).version)
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="", right_cursor="")  # read everything again
    assert detect_changes(mapping.pk).changed == 0


def test_a_choice_applies_to_its_field_even_after_the_field_map_is_reordered(mapping, left, right, linked, operator):
    sync, left_key, right_key = linked
    mapping.conflict_policy = Mapping.ConflictPolicy.ERROR
    mapping.save()
    edit(left, left_key, title="Left title", status="Left status")
    edit(right, right_key, title="Right title", state="Right status")
    sync_round(mapping)
    sync.refresh_from_db()
    assert [entry["rule"] for entry in sync.error_context["fields"]] == ["title|title", "status|state"]
    mapping.field_map = list(reversed(mapping.field_map))  # an admin reorders the rules meanwhile
    mapping.save()
    choices = {"title|title": "right", "status|state": "left"}
    operations.perform(Operation.Action.RESOLVE, [sync.pk], user=operator, parameters={"choices": choices})
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert fields_of(left, left_key)["title"] == fields_of(right, right_key)["title"] == "Right title"
    assert fields_of(left, left_key)["status"] == fields_of(right, right_key)["state"] == "Left status"
    entry = LogEntry.objects.get(sync=sync, message__startswith="Conflict resolved")
    assert entry.message == "Conflict resolved by operator: title: right, status ↔ state: left; processing again."


def test_both_artifacts_deleted_is_said_and_only_unlink_is_offered(mapping, left, right, linked, operator):
    sync, left_key, right_key = linked
    SandboxArtifact.objects.filter(key__in=[left_key, right_key]).delete()
    operations.perform(Operation.Action.RETRY, [sync.pk], user=operator)
    process_pending()
    sync.refresh_from_db()
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message == (
        f"{left_key} was deleted in 'Left' and {right_key} in 'Right' (or our account can no longer see them)"
    )
    assert sync.error_context["side"] == "both"
    with pytest.raises(operations.ActionRefused, match="both are gone"):
        operations.perform(Operation.Action.RECREATE, [sync.pk], user=operator)
    operations.perform(Operation.Action.UNLINK, [sync.pk], user=operator)
    sync.refresh_from_db()
    assert (sync.status, sync.left_key, sync.right_key) == (SyncStatus.IGNORED, left_key, right_key)


def test_recreate_is_refused_when_the_other_side_is_gone_too(mapping, left, right, linked, operator):
    sync, left_key, right_key = linked
    SandboxArtifact.objects.filter(key=right_key).delete()
    edit(left, left_key, title="Edited")
    sync_round(mapping)
    Synchronization.objects.filter(pk=sync.pk).update(left_key="")  # as after an earlier Recreate of the left
    with pytest.raises(operations.ActionRefused, match="both are gone"):
        operations.perform(Operation.Action.RECREATE, [sync.pk], user=operator)
