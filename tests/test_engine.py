"""Change detection and processing of syncs between two sandbox repositories."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from metrics.models import HourlyRollup, SyncEvent
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.engine import process
from synchronizations.engine.detect import claim_mapping, detect_changes
from synchronizations.models import LogEntry, Mapping, SandboxArtifact, Synchronization, SyncStatus
from tests.engine_fixtures import set_repository

pytestmark = pytest.mark.django_db


def run(sync_id, token="job-1"):  # noqa: S107  (a job id)
    return process.process_sync(sync_id, token)


def claim(sync_id, token) -> bool:
    """pending -> processing for job ``token``, as a worker does first."""
    return bool(Synchronization.objects.filter(pk=sync_id).claim(token, timezone.now()))


def detect_and_process(mapping):
    detection = detect_changes(mapping.pk)
    for sync in Synchronization.objects.filter(status=SyncStatus.PENDING):
        run(sync.pk, f"job-{sync.pk}-{timezone.now().timestamp()}")
    return detection


def edit(connector, key, **fields):
    artifact = connector.get(key)
    return connector.update(key, fields, artifact.version)


def test_a_new_artifact_gets_a_sync_and_a_counterpart(mapping, left, right):
    artifact = left.create("", {"title": "Crash", "status": "Open", "priority": "High"})
    detection = detect_changes(mapping.pk)
    assert (detection.created, detection.changed) == (1, 0)
    sync = Synchronization.objects.get()
    assert (sync.status, sync.left_key, sync.title) == (SyncStatus.PENDING, artifact.key, "Crash")
    assert run(sync.pk) == SyncStatus.OK
    sync.refresh_from_db()
    counterpart = right.get(sync.right_key)
    assert counterpart.fields == {"title": "Crash", "state": "New", "severity": "Major"}
    assert sync.right_url == counterpart.url
    assert SyncEvent.objects.get().kind == "created"
    assert HourlyRollup.objects.get().created == 1
    assert LogEntry.objects.filter(sync=sync, message__startswith=f"Created {sync.right_key}").exists()


def test_an_edit_is_carried_over_and_does_not_echo_back(mapping, left, right):
    artifact = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    edit(left, artifact.key, status="Done")
    detection = detect_and_process(mapping)
    assert detection.changed == 1
    sync = Synchronization.objects.get()
    assert right.get(sync.right_key).fields["state"] == "Closed"
    assert sync.status == SyncStatus.OK
    # Our own write on the right comes back through detection: recognised, not synced again.
    echo = detect_changes(mapping.pk)
    assert (echo.changed, echo.unchanged) == (0, 1)
    assert Synchronization.objects.get().status == SyncStatus.OK
    assert SyncEvent.objects.filter(kind="updated").count() == 1


def test_an_edit_of_a_field_we_do_not_sync_changes_nothing(mapping, left):
    artifact = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    edit(left, artifact.key, assignee="zoe")
    detection = detect_changes(mapping.pk)
    # the edit, and the counterpart our first sync wrote (seen now for the first time)
    assert (detection.changed, detection.unchanged) == (0, 2)
    assert Synchronization.objects.get().status == SyncStatus.OK


def test_an_edit_on_the_right_goes_to_the_left(mapping, left, right):
    artifact = left.create("", {"title": "Crash", "status": "Open", "priority": "High"})
    detect_and_process(mapping)
    sync = Synchronization.objects.get()
    edit(right, sync.right_key, state="Closed", severity="Minor")
    detect_and_process(mapping)
    # status comes back; priority does not (its rule is left to right only)
    assert left.get(artifact.key).fields == {"title": "Crash", "status": "Done", "priority": "High"}


@pytest.mark.parametrize(
    ("policy", "winner"),
    [
        (Mapping.ConflictPolicy.LEFT, "left"),
        (Mapping.ConflictPolicy.RIGHT, "right"),
        (Mapping.ConflictPolicy.NEWEST, "right"),
    ],
)
def test_when_both_sides_changed_the_conflict_policy_decides_and_says_so(mapping, left, right, policy, winner):
    mapping.conflict_policy = policy
    mapping.save()
    artifact = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    sync = Synchronization.objects.get()
    edit(left, artifact.key, title="Left title")
    edit(right, sync.right_key, title="Right title")  # the newer edit
    detect_and_process(mapping)
    expected = "Left title" if winner == "left" else "Right title"
    assert left.get(artifact.key).fields["title"] == expected
    assert right.get(sync.right_key).fields["title"] == expected
    log = LogEntry.objects.get(sync=sync, level="warning")
    assert log.message.startswith("Conflict on title: L-1 has 'Left title', R-1 has 'Right title';")
    assert log.message.endswith(f"kept the {winner} side's {expected!r}.")


def test_an_unmappable_value_puts_the_sync_in_error_naming_field_and_value(mapping, left):
    left.create("", {"title": "Crash", "status": "Blocked"})
    detect_and_process(mapping)
    sync = Synchronization.objects.get()
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message == "Field 'status' value 'Blocked' has no mapping to 'state' in mapping 'L to R'"
    assert sync.error_at is not None
    assert LogEntry.objects.filter(sync=sync, level="error", message__contains="'Blocked'").exists()
    assert not SyncEvent.objects.exists()


def test_a_validation_refusal_is_a_permanent_error(mapping, left):
    left.create("", {"title": "", "status": "Open"})
    detect_and_process(mapping)
    assert Synchronization.objects.get().error_message == "'Right' refused the change: field 'title' is required"


@override_settings(SYNCWEB_MAX_ATTEMPTS=3, SYNCWEB_BACKOFF_BASE=10, SYNCWEB_BACKOFF_MAX=15)
def test_transient_failures_back_off_then_give_up_into_error(mapping, left):
    left.create("", {"title": "Crash", "status": "Open"})
    detect_changes(mapping.pk)
    set_repository(mapping.right, offline=True)
    sync = Synchronization.objects.get()
    delays = []
    for attempt in (1, 2):
        started = timezone.now()
        assert run(sync.pk, f"job-{attempt}") == SyncStatus.PENDING
        sync.refresh_from_db()
        delays.append((sync.next_retry_at - started).total_seconds())
        assert sync.attempts == attempt
        assert run(sync.pk, "too-early") == "skipped"  # not due yet
        Synchronization.objects.filter(pk=sync.pk).update(next_retry_at=timezone.now())
    assert 5 <= delays[0] <= 10.5  # 10 s, with jitter between half and all of it
    assert 7.5 <= delays[1] <= 15.5  # 20 s capped at 15
    assert run(sync.pk, "job-3") == SyncStatus.ERROR
    sync.refresh_from_db()
    assert sync.error_message == "Connection to 'Right' refused: the repository is offline (gave up after 3 attempts)"
    assert sync.retry_count == 2


def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings):
    settings.SYNCWEB_BACKOFF_BASE, settings.SYNCWEB_BACKOFF_MAX = 2, 60
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (6, 60), (20, 60)]:
        delays = {process.backoff(attempt).total_seconds() for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


def test_after_an_outage_the_automatic_retry_recovers(mapping, left, right):
    left.create("", {"title": "Crash", "status": "Open"})
    detect_changes(mapping.pk)
    set_repository(mapping.right, offline=True)
    sync = Synchronization.objects.get()
    assert run(sync.pk, "a") == SyncStatus.PENDING
    set_repository(mapping.right, offline=False)
    Synchronization.objects.filter(pk=sync.pk).update(next_retry_at=timezone.now())
    assert process.queue_due() == 1
    assert run(sync.pk, "b") == SyncStatus.OK


def test_two_claims_one_winner(mapping, left):
    left.create("", {"title": "Crash"})
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    assert claim(sync.pk, "worker-a")
    assert not claim(sync.pk, "worker-b")
    assert run(sync.pk, "worker-b") == "skipped"
    # Not even the same token takes a held sync again (tests/test_redelivery.py).
    assert not claim(sync.pk, "worker-a")


def test_the_reaper_puts_back_a_sync_whose_worker_died(mapping, left):
    left.create("", {"title": "Crash", "status": "Open"})
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    claim(sync.pk, "dead-job")
    assert process.reap_stuck(timedelta(minutes=5)) == 0  # not stuck long enough yet
    Synchronization.objects.filter(pk=sync.pk).update(processing_started_at=timezone.now() - timedelta(minutes=6))
    assert process.reap_stuck(timedelta(minutes=5)) == 1
    sync.refresh_from_db()
    assert (sync.status, sync.claimed_by, sync.lost_count) == (SyncStatus.PENDING, "", 1)
    Synchronization.objects.filter(pk=sync.pk).update(next_retry_at=timezone.now())  # its backoff has passed
    assert process.queue_due() == 1
    assert run(sync.pk, "new-job") == SyncStatus.OK
    # The dead job's own redelivery finds nothing to do.
    assert run(sync.pk, "dead-job") == "skipped"


def test_a_change_during_processing_is_processed_again(mapping, left, right, monkeypatch):
    artifact = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    edit(left, artifact.key, status="Done")
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    write = SandboxConnector.update_many

    def write_while_someone_edits(connector, changes):
        monkeypatch.undo()  # once
        edit(left, artifact.key, title="Renamed")
        detect_changes(mapping.pk)  # sees the edit while the job holds the sync
        assert Synchronization.objects.get().recheck is True
        return write(connector, changes)

    monkeypatch.setattr(SandboxConnector, "update_many", write_while_someone_edits)
    assert run(sync.pk, "job") == SyncStatus.PENDING
    assert run(sync.pk, "job-2") == SyncStatus.OK
    assert right.get(sync.right_key).fields["title"] == "Renamed"


def test_ignored_syncs_are_skipped_by_detection(mapping, left):
    artifact = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    Synchronization.objects.update(status=SyncStatus.IGNORED, ignore_changes=True)
    edit(left, artifact.key, status="Done")
    detection = detect_changes(mapping.pk)
    assert (detection.changed, detection.ignored) == (0, 2)  # the edit, and the counterpart seen the first time
    assert Synchronization.objects.get().status == SyncStatus.IGNORED


def test_an_edit_of_a_sync_in_error_processes_it_again(mapping, left):
    artifact = left.create("", {"title": "Crash", "status": "Blocked"})
    detect_and_process(mapping)
    assert Synchronization.objects.get().status == SyncStatus.ERROR
    edit(left, artifact.key, status="Open")  # someone fixed the value
    detect_and_process(mapping)
    sync = Synchronization.objects.get()
    assert (sync.status, sync.error_message) == (SyncStatus.OK, "")


def test_two_detections_of_one_mapping_never_run_at_once(mapping):
    assert claim_mapping(mapping.pk) is True
    assert detect_changes(mapping.pk).ran is False
    Mapping.objects.filter(pk=mapping.pk).update(detection_claimed_at=None)
    assert detect_changes(mapping.pk).ran is True


def test_a_failed_detection_keeps_its_cursor_and_says_why(mapping, left):
    left.create("", {"title": "Crash"})
    set_repository(mapping.left, offline=True)
    detection = detect_changes(mapping.pk)
    mapping.refresh_from_db()
    assert detection.error == "Connection to 'Left' refused: the repository is offline"
    assert mapping.left_cursor == ""
    assert mapping.last_detection_error == detection.error
    assert mapping.detection_claimed_at is None


def test_an_admin_edit_of_a_sandbox_artifact_is_a_change(mapping, left):
    created = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    row = SandboxArtifact.objects.get(key=created.key)
    row.fields["status"] = "Done"
    row.save()
    assert row.version == 2
    assert detect_changes(mapping.pk).changed == 1


def test_only_enabled_mappings_between_enabled_repositories_are_due(mapping):
    from synchronizations.engine.detect import mappings_due

    assert mappings_due() == [mapping.pk]  # never detected yet
    Mapping.objects.filter(pk=mapping.pk).update(last_detection_at=timezone.now())
    assert mappings_due() == []  # its interval has not passed
    Mapping.objects.filter(pk=mapping.pk).update(last_detection_at=timezone.now() - timedelta(seconds=61))
    assert mappings_due() == [mapping.pk]
    mapping.right.enabled = False
    mapping.right.save()
    assert mappings_due() == []


def test_a_pending_sync_whose_job_was_lost_is_queued_again(mapping, left):
    left.create("", {"title": "Crash"})
    detect_changes(mapping.pk)  # queued a job that (say) never reached the broker
    sync = Synchronization.objects.get()
    assert process.queue_due() == 0  # not due: its job is presumed on its way
    process.reap_stuck(timedelta(minutes=5))
    assert process.queue_due() == 0  # waiting less than the timeout is normal
    Synchronization.objects.filter(pk=sync.pk).update(updated_at=timezone.now() - timedelta(minutes=6))
    process.reap_stuck(timedelta(minutes=5))
    assert process.queue_due() == 1


def test_a_sync_in_error_is_processed_again_even_when_edited_back_to_its_synced_state(mapping, left):
    artifact = left.create("", {"title": "Crash", "status": "Open"})
    detect_and_process(mapping)
    edit(left, artifact.key, status="Blocked")
    detect_and_process(mapping)
    assert Synchronization.objects.get().status == SyncStatus.ERROR
    edit(left, artifact.key, status="Open")  # exactly what was last synced
    detect_and_process(mapping)
    assert Synchronization.objects.get().status == SyncStatus.OK


def test_a_disabled_mappings_syncs_wait_pending_until_it_is_enabled(mapping, left, right):
    left.create("", {"title": "Crash", "status": "Open"})
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    Mapping.objects.filter(pk=mapping.pk).update(enabled=False)
    assert run(sync.pk) == "skipped"
    sync.refresh_from_db()
    assert (sync.status, sync.claimed_by, sync.right_key) == (SyncStatus.PENDING, "", "")
    Mapping.objects.filter(pk=mapping.pk).update(enabled=True)
    assert run(sync.pk, "job-2") == SyncStatus.OK


def test_a_job_of_several_syncs_processes_each_and_a_redelivery_skips_what_another_holds(mapping, left):
    for number in range(3):
        left.create("", {"title": f"Crash {number}", "status": "Open"})
    detect_changes(mapping.pk)
    ids = list(Synchronization.objects.order_by("pk").values_list("pk", flat=True))
    # The first delivery claimed the first sync; the job delivered again leaves it to it.
    assert claim(ids[0], "job-7")
    assert process.process_batch(ids, "job-7") == {"skipped": 1, SyncStatus.OK: 2}
    assert process.process_batch(ids, "job-8") == {"skipped": 3}  # a duplicate job finds nothing to do
    statuses = dict(Synchronization.objects.values_list("pk", "status"))
    assert statuses == {ids[0]: SyncStatus.PROCESSING, ids[1]: SyncStatus.OK, ids[2]: SyncStatus.OK}
