"""End to end against the live trackers: a mapping between a Redmine project and a
Roundup keyword, kept in sync by a real Celery worker and beat on a real Redis,
exactly as in production (only the intervals are short). Skips, saying why, where
Redmine or Roundup is not installed (CI installs both and fails instead)."""

import copy

import pytest

from synchronizations import operations
from synchronizations.connectors import connector_for
from synchronizations.demo.local_trackers import FIELD_MAP
from synchronizations.models import LogEntry, Mapping, Repository, Synchronization, SyncStatus
from tests.conftest import wait_for
from tests.harness_redmine import redmine_repository
from tests.harness_roundup import create_keyword, roundup_connector

pytestmark = [pytest.mark.live, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Short intervals, so that what production does in minutes happens in seconds.
FAST = {
    "SYNCWEB_TICK": "0.5",
    "SYNCWEB_BACKOFF_BASE": "1",
    "SYNCWEB_BACKOFF_MAX": "2",
    "SYNCWEB_MAX_ATTEMPTS": "20",
    "SYNCWEB_HEALTH_CHECK_INTERVAL": "1",
}
DEADLINE = 90  # seconds for one change to cross (detection, processing, Roundup's settling)


@pytest.fixture
def linked(redmine_server, roundup_server, redmine_project, unique_name, celery_processes):
    """A mapping Redmine project ↔ Roundup keyword, a worker and beat; returns
    (mapping, Redmine connector, Roundup connector)."""
    create_keyword(roundup_server, unique_name)
    left = redmine_repository(redmine_server, name="Redmine")
    right = roundup_connector(roundup_server, "Roundup").repository
    mapping = Mapping.objects.create(
        name="Redmine ↔ Roundup",
        left=left,
        left_scope=redmine_project["identifier"],
        right=right,
        right_scope=unique_name,
        field_map=copy.deepcopy(FIELD_MAP),
        detection_interval=1,
    )
    celery_processes.worker(**FAST)
    celery_processes.beat(**FAST)
    return mapping, connector_for(left), connector_for(right)


def sync_of(mapping, **key) -> Synchronization | None:
    return Synchronization.objects.filter(mapping=mapping, **key).first()


def linked_sync(mapping, **key) -> Synchronization:
    """The sync of the artifact ``key`` once both sides exist and it is OK."""
    return wait_for(
        lambda: (
            Synchronization.objects.filter(mapping=mapping, status=SyncStatus.OK, **key)
            .exclude(left_key="")
            .exclude(right_key="")
            .first()
        ),
        DEADLINE,
        f"the sync of {key} to link both sides",
    )


def fields(connector, key: str, *names: str) -> dict:
    read = connector.get(key).fields
    return {name: read.get(name) for name in names}


def edit(connector, key: str, **changes) -> None:
    connector.update(key, changes, connector.get(key).version)


def test_issues_flow_both_ways_with_mapped_values_and_never_echo(linked):
    mapping, redmine, roundup = linked
    ours = redmine.create(mapping.left_scope, {"title": "Checkout fails", "status": "New", "priority": "High"})
    sync = linked_sync(mapping, left_key=ours.key)
    assert fields(roundup, sync.right_key, "title", "status", "priority") == {
        "title": "Checkout fails", "status": "unread", "priority": "bug"
    }  # fmt: skip

    theirs = roundup.create(mapping.right_scope, {"title": "Login slow", "status": "chatting", "priority": "urgent"})
    other = linked_sync(mapping, right_key=theirs.key)
    assert fields(redmine, other.left_key, "title", "status", "priority") == {
        "title": "Login slow", "status": "Feedback", "priority": "Urgent"
    }  # fmt: skip

    edit(redmine, ours.key, status="In Progress")
    wait_for(lambda: roundup.get(sync.right_key).fields["status"] == "in-progress", DEADLINE, "Redmine's edit")
    edit(roundup, theirs.key, priority="critical")
    wait_for(lambda: redmine.get(other.left_key).fields["priority"] == "Immediate", DEADLINE, "Roundup's edit")

    # Settled: nothing more is written, however long detection keeps looking.
    linked_sync(mapping, left_key=ours.key), linked_sync(mapping, right_key=theirs.key)
    versions = {key: c.get(key).version for c, key in [(redmine, ours.key), (roundup, theirs.key)]}
    written = LogEntry.objects.filter(mapping=mapping, message__regex=r"^(Created|Updated) ").count()
    detected = Mapping.objects.get(pk=mapping.pk).last_detection_at
    wait_for(
        lambda: (
            Mapping.objects.get(pk=mapping.pk).last_detection_at > detected
            and Mapping.objects.get(pk=mapping.pk).left_cursor != ""
        ),
        DEADLINE,
        "change detection to run again",
    )
    for _ in range(3):  # three more rounds of detection
        before = Mapping.objects.get(pk=mapping.pk).last_detection_at
        wait_for(lambda t=before: Mapping.objects.get(pk=mapping.pk).last_detection_at > t, 30, "detection")
    assert LogEntry.objects.filter(mapping=mapping, message__regex=r"^(Created|Updated) ").count() == written
    assert {key: c.get(key).version for c, key in [(redmine, ours.key), (roundup, theirs.key)]} == versions
    assert Synchronization.objects.filter(mapping=mapping).count() == 2


def test_an_unmappable_value_goes_to_the_error_queue_and_a_retry_after_fixing_the_map_mends_it(linked, operator):
    mapping, redmine, roundup = linked
    issue = redmine.create(mapping.left_scope, {"title": "Wontfix", "status": "New", "priority": "Low"})
    sync = linked_sync(mapping, left_key=issue.key)
    edit(redmine, issue.key, status="Rejected")  # not in the value map
    failed = wait_for(
        lambda: Synchronization.objects.filter(pk=sync.pk, status=SyncStatus.ERROR).first(), DEADLINE, "the error"
    )
    assert "'status'" in failed.error_message and "'Rejected'" in failed.error_message
    field_map = copy.deepcopy(mapping.field_map)
    field_map[1]["values"]["Rejected"] = "deferred"
    Mapping.objects.filter(pk=mapping.pk).update(field_map=field_map)
    operations.perform("retry", [sync.pk], user=operator)
    linked_sync(mapping, left_key=issue.key)
    assert roundup.get(sync.right_key).fields["status"] == "deferred"


def test_a_stopped_tracker_is_retried_until_it_is_back(linked, roundup_server):
    mapping, redmine, roundup = linked
    issue = redmine.create(mapping.left_scope, {"title": "Outage", "status": "New", "priority": "Normal"})
    sync = linked_sync(mapping, left_key=issue.key)
    roundup_server.stop()
    try:
        edit(redmine, issue.key, title="Outage, edited while Roundup is down")
        wait_for(
            lambda: LogEntry.objects.filter(sync=sync, message__contains="failed: Cannot reach 'Roundup'").exists(),
            DEADLINE,
            "a transient failure",
        )
        assert Synchronization.objects.get(pk=sync.pk).status == SyncStatus.PENDING  # not in the error queue
    finally:
        roundup_server.start()
    wait_for(
        lambda: roundup.get(sync.right_key).fields["title"] == "Outage, edited while Roundup is down",
        DEADLINE,
        "recovery",
    )
    assert linked_sync(mapping, left_key=issue.key).status == SyncStatus.OK


def test_a_revoked_key_pauses_the_mapping_without_sync_errors_and_it_resumes_once_fixed(linked, redmine_server):
    mapping, redmine, roundup = linked
    issues = [roundup.create(mapping.right_scope, {"title": f"Ticket {n}", "status": "unread"}) for n in range(5)]
    for issue in issues:
        linked_sync(mapping, right_key=issue.key)
    left = Repository.objects.get(pk=mapping.left_id)
    left.set_secret("0" * 40)  # the key is revoked
    left.save()
    for issue in issues:
        edit(roundup, issue.key, title=f"{roundup.get(issue.key).fields['title']} (edited)")
    wait_for(lambda: not Repository.objects.get(pk=left.pk).healthy, DEADLINE, "the repository to be unhealthy")
    paused = Mapping.objects.select_related("left", "right").get(pk=mapping.pk).paused_reason
    assert "refused our credentials (HTTP 401)" in paused
    assert not Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).exists()
    left = Repository.objects.get(pk=left.pk)
    left.set_secret(redmine_server.api_key)  # the key is fixed in the admin
    left.save(update_fields=["secret"])
    for issue in issues:
        sync = sync_of(mapping, right_key=issue.key)
        wait_for(lambda s=sync: redmine.get(s.left_key).fields["title"].endswith("(edited)"), DEADLINE, "resume")
    assert Repository.objects.get(pk=left.pk).healthy
    assert not Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).exists()
