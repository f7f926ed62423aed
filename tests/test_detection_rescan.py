"""Full rescans (issue 14): asked for by rescan_requested_at, detection reads both
sides from the start, page by page, and picks up what incremental detection missed,
without queueing what did not change. A sync in error stays there when its artifact
is read again unchanged, and goes back to processing on any edit."""

from datetime import timedelta

import pytest
from django.utils import timezone

from synchronizations import jobs
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.engine import detect, process
from synchronizations.engine.detect import detect_changes, full_scans_due, mappings_due
from synchronizations.models import Mapping, Repository, Synchronization, SyncStatus
from tests.engine_fixtures import set_repository
from tests.harness_roundup import create_keyword, roundup_connector

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    """The ids detection queues for processing, in order."""
    ids: list[int] = []
    monkeypatch.setattr(jobs, "queue_processing", lambda sync_ids: ids.extend(sync_ids))
    return ids


def process_pending():
    for sync in Synchronization.objects.filter(status=SyncStatus.PENDING):
        process.process_sync(sync.pk, f"job-{sync.pk}-{timezone.now().timestamp()}")


def ask_rescan(mapping, at=None) -> None:
    Mapping.objects.filter(pk=mapping.pk).update(rescan_requested_at=at or timezone.now())


def edit(connector, key, **fields):
    return connector.update(key, fields, connector.get(key).version)


def test_a_rescan_picks_up_what_incremental_detection_missed(mapping, left):
    left.create("", {"title": "Seen"})
    detect_changes(mapping.pk)
    missed = left.create("", {"title": "Missed"})
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="999999")  # the cursor moved past it
    assert detect_changes(mapping.pk).created == 0

    asked = timezone.now()
    ask_rescan(mapping, asked)
    detection = detect_changes(mapping.pk)
    assert (detection.rescan, detection.created) == (True, 1)
    assert str(detection).startswith("full rescan: 1 new")
    assert Synchronization.objects.filter(left_key=missed.key).exists()
    mapping.refresh_from_db()
    assert mapping.rescan_requested_at is None
    assert asked <= mapping.last_full_scan_at <= timezone.now()
    assert detect_changes(mapping.pk).rescan is False


def test_a_rescan_reads_every_page_to_the_end(mapping, left, monkeypatch):
    monkeypatch.setattr(detect, "PAGE_SIZE", 2)
    for n in range(7):
        left.create("", {"title": f"Bug {n}"})
    assert detect_changes(mapping.pk).created == 2  # incremental: one page
    ask_rescan(mapping)
    assert detect_changes(mapping.pk).created == 5
    assert Synchronization.objects.count() == 7


def test_a_rescan_of_an_unchanged_scope_queues_nothing_and_leaves_errors_alone(mapping, left, right, queued):
    left.create("", {"title": "Fine", "status": "Open"})
    left.create("", {"title": "Unmappable", "status": "Blocked"})
    detect_changes(mapping.pk)
    process_pending()
    detect_changes(mapping.pk)  # the counterparts come back: our own writes
    process_pending()
    assert sorted(Synchronization.objects.values_list("status", flat=True)) == [SyncStatus.ERROR, SyncStatus.OK]
    queued.clear()

    ask_rescan(mapping)
    detection = detect_changes(mapping.pk)
    assert (detection.rescan, detection.created, detection.changed) == (True, 0, 0), detection
    assert queued == []
    assert sorted(Synchronization.objects.values_list("status", flat=True)) == [SyncStatus.ERROR, SyncStatus.OK]


def test_a_sync_in_error_read_again_unchanged_stays_in_error(mapping, left):
    left.create("", {"title": "Unmappable", "status": "Blocked"})
    detect_changes(mapping.pk)
    process_pending()
    assert Synchronization.objects.get().status == SyncStatus.ERROR
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="")  # a connector's overlap reads it again
    detection = detect_changes(mapping.pk)
    assert (detection.changed, detection.unchanged) == (0, 1)
    assert Synchronization.objects.get().status == SyncStatus.ERROR


@pytest.mark.parametrize("change", [{"status": "Open"}, {"description": "a field we do not map"}])
def test_any_edit_of_an_artifact_whose_sync_is_in_error_sends_it_back(mapping, left, change):
    artifact = left.create("", {"title": "Unmappable", "status": "Blocked"})
    detect_changes(mapping.pk)
    process_pending()
    edit(left, artifact.key, **change)
    assert detect_changes(mapping.pk).changed == 1
    assert Synchronization.objects.get().status == SyncStatus.PENDING


def test_an_edit_while_processing_that_then_fails_is_still_seen_next_time(mapping, left):
    artifact = left.create("", {"title": "Unmappable", "status": "Blocked"})
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    Synchronization.objects.filter(pk=sync.pk).claim("job-1", timezone.now())
    edit(left, artifact.key, status="Blocked", description="edited meanwhile")
    detect_changes(mapping.pk)  # flags it; the version it saw is not recorded yet
    Synchronization.objects.filter(pk=sync.pk).claimed("job-1").fail("boom", now=timezone.now())
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="")
    assert detect_changes(mapping.pk).changed == 1
    assert Synchronization.objects.get().status == SyncStatus.PENDING


def test_detection_records_the_version_it_saw(mapping, left):
    artifact = left.create("", {"title": "Bug"})
    detect_changes(mapping.pk)
    assert Synchronization.objects.get().left_version == artifact.version
    edited = edit(left, artifact.key, title="Bug!")
    detect_changes(mapping.pk)
    assert Synchronization.objects.get().left_version == edited.version


def test_a_rescan_asked_again_while_it_ran_stays_asked(mapping, left, monkeypatch):
    left.create("", {"title": "Bug"})
    ask_rescan(mapping, timezone.now() - timedelta(minutes=1))
    again = timezone.now()
    read = SandboxConnector.changed_since

    def asked_meanwhile(self, scope, cursor, limit=500):
        ask_rescan(mapping, again)
        return read(self, scope, cursor, limit)

    monkeypatch.setattr(SandboxConnector, "changed_since", asked_meanwhile)
    assert detect_changes(mapping.pk).rescan is True
    mapping.refresh_from_db()
    assert mapping.rescan_requested_at == again
    assert mapping.last_full_scan_at is not None


def test_a_failed_rescan_stays_asked(mapping, left):
    left.create("", {"title": "Bug"})
    ask_rescan(mapping)
    set_repository(mapping.right, offline=True)
    detection = detect_changes(mapping.pk)
    assert detection.error
    mapping.refresh_from_db()
    assert mapping.rescan_requested_at is not None
    assert mapping.last_full_scan_at is None


def test_a_mapping_with_a_rescan_asked_is_due_before_its_interval(mapping):
    Mapping.objects.filter(pk=mapping.pk).update(last_detection_at=timezone.now())
    assert mappings_due() == []
    ask_rescan(mapping)
    assert mappings_due() == [mapping.pk]


def test_full_scans_are_due_every_full_scan_hours_and_never_with_0(mapping):
    now = timezone.now()
    assert full_scans_due(now) == [mapping.pk]  # never scanned
    Mapping.objects.filter(pk=mapping.pk).update(last_full_scan_at=now - timedelta(hours=23))
    assert full_scans_due(now) == []
    Mapping.objects.filter(pk=mapping.pk).update(last_full_scan_at=now - timedelta(hours=24))
    assert full_scans_due(now) == [mapping.pk]
    ask_rescan(mapping)
    assert full_scans_due(now) == []  # asked already
    Mapping.objects.filter(pk=mapping.pk).update(rescan_requested_at=None, full_scan_hours=0)
    assert full_scans_due(now) == []
    Mapping.objects.filter(pk=mapping.pk).update(full_scan_hours=24, enabled=False)
    assert full_scans_due(now) == []


@pytest.mark.live
def test_a_rescan_of_roundup_picks_up_a_missed_issue_and_leaves_an_unchanged_error_alone(
    roundup_server, unique_name, queued
):
    create_keyword(roundup_server, unique_name)
    roundup = roundup_connector(roundup_server, f"Roundup {unique_name}")
    target = Repository.objects.create(
        name="Target", kind="sandbox", settings={"key_prefix": "T", "allowed": {"status": ["unread", "chatting"]}}
    )
    mapping = Mapping.objects.create(
        name="Roundup to sandbox",
        left=roundup.repository,
        left_scope=unique_name,
        right=target,
        field_map=[
            {"left": "title", "right": "title", "direction": "both"},
            {"left": "status", "right": "status", "direction": "both"},
        ],
    )
    base = {"status": "unread", "priority": "bug"}
    roundup.create(unique_name, {"title": "Fine", **base})
    failing = roundup.create(unique_name, {"title": "Refused", **base, "status": "in-progress"})
    assert detect_changes(mapping.pk).created == 2
    process_pending()
    assert Synchronization.objects.get(left_key=failing.key).status == SyncStatus.ERROR

    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="2999-01-01.00:00:00|1")  # moved past everything
    missed = roundup.create(unique_name, {"title": "Missed", **base})
    assert detect_changes(mapping.pk).created == 0
    queued.clear()

    ask_rescan(mapping)
    detection = detect_changes(mapping.pk)
    assert (detection.rescan, detection.created) == (True, 1), detection
    assert Synchronization.objects.filter(left_key=missed.key).exists()
    assert Synchronization.objects.get(left_key=failing.key).status == SyncStatus.ERROR
    assert queued == list(Synchronization.objects.filter(left_key=missed.key).values_list("pk", flat=True))

    edit(roundup, failing.key, priority="urgent")  # a field we do not map
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="")
    detect_changes(mapping.pk)
    assert Synchronization.objects.get(left_key=failing.key).status == SyncStatus.PENDING
