"""Our own database failing (restarted, unreachable, a dropped connection) is never
recorded as a sync's error, a repository's health, a failed operation or a failing
alert rule: the work stops and comes back (errors.DATABASE_FAILED).

Found by CI: PostgreSQL restarted while the sandbox (whose artifacts live in our
database) created counterparts, and 100 syncs went to the error queue as
"Unexpected error: OperationalError('terminating connection due to administrator
command')". The chaos suite restarts a real PostgreSQL; these tests raise the same
error where each catch-all is."""

from datetime import timedelta

import pytest
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from alerts import evaluator, lease
from alerts.models import Rule
from synchronizations import operations
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.engine.health import check_repository
from synchronizations.models import LogEntry, Mapping, Operation, Repository, Synchronization, SyncStatus
from tests import factories
from tests.engine_fixtures import FIELD_MAP

pytestmark = pytest.mark.django_db

RESTARTED = OperationalError("terminating connection due to administrator command")


def failing(error=RESTARTED):
    def call(*args, **kwargs):
        raise error

    return call


@pytest.fixture
def pair(db):
    left = Repository.objects.create(name="Left", kind="sandbox", settings={"key_prefix": "L"})
    right = Repository.objects.create(name="Right", kind="sandbox", settings={"key_prefix": "R"})
    mapping = Mapping.objects.create(name="L to R", left=left, right=right, field_map=FIELD_MAP[:1])
    return mapping, SandboxConnector(left), SandboxConnector(right)


def no_error_recorded(mapping):
    assert not Synchronization.objects.filter(status=SyncStatus.ERROR).exists()
    assert not Synchronization.objects.exclude(error_message="").exists()
    assert not LogEntry.objects.filter(message__contains="OperationalError").exists()
    mapping.refresh_from_db()
    assert mapping.last_detection_error == ""


@pytest.mark.parametrize("call", ["get_many", "create_many", "update_many"])
@pytest.mark.parametrize("error", [RESTARTED, InterfaceError("connection already closed")])
def test_a_job_whose_database_fails_records_no_error_and_its_syncs_come_back(pair, monkeypatch, call, error):
    mapping, left, right = pair
    artifact = left.create("", {"title": "First"})
    detect_changes(mapping.pk)
    if call == "update_many":  # a synced pair, then an edit to carry
        [sync] = Synchronization.objects.all()
        assert process.process_batch([sync.pk], "job-0") == {SyncStatus.OK: 1}
        left.update(artifact.key, {"title": "Edited"}, left.get(artifact.key).version)
        detect_changes(mapping.pk)
    [sync] = Synchronization.objects.all()
    monkeypatch.setattr(SandboxConnector, call, failing(error))
    with pytest.raises(type(error)):
        process.process_batch([sync.pk], "job-1")
    no_error_recorded(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.PROCESSING, "held until the reaper gives it back"
    # Abandoned: the reaper's next round takes it, however recent its claim.
    assert process.reap_stuck(timedelta(hours=1)) == 1
    sync.refresh_from_db()
    assert (sync.status, sync.claimed_by, sync.lost_count) == (SyncStatus.PENDING, "", 1)
    monkeypatch.undo()
    Synchronization.objects.filter(pk=sync.pk).update(next_retry_at=timezone.now())
    assert process.process_batch([sync.pk], "job-2") == {SyncStatus.OK: 1}
    sync.refresh_from_db()
    assert right.get(sync.right_key).fields["title"] == left.get(artifact.key).fields["title"]


def test_when_the_database_still_does_not_answer_the_reaper_takes_the_syncs_after_its_timeout(pair, monkeypatch):
    mapping, left, _ = pair
    left.create("", {"title": "First"})
    detect_changes(mapping.pk)
    [sync] = Synchronization.objects.all()
    monkeypatch.setattr(SandboxConnector, "create_many", failing())
    monkeypatch.setattr(Synchronization.objects._queryset_class, "abandon", failing())
    with pytest.raises(OperationalError):
        process.process_batch([sync.pk], "job-1")
    no_error_recorded(mapping)
    assert process.reap_stuck(timedelta(hours=1)) == 0, "not abandoned: the claim is recent"
    Synchronization.objects.filter(pk=sync.pk).update(processing_started_at=timezone.now() - timedelta(hours=2))
    assert process.reap_stuck(timedelta(hours=1)) == 1


def test_change_detection_whose_database_fails_records_no_detection_error(pair, monkeypatch):
    mapping, left, _ = pair
    left.create("", {"title": "First"})
    monkeypatch.setattr(SandboxConnector, "changed_since", failing())
    with pytest.raises(OperationalError):
        detect_changes(mapping.pk)
    no_error_recorded(mapping)
    assert not LogEntry.objects.filter(message__contains="detection").exists()
    monkeypatch.undo()
    assert detect_changes(mapping.pk).created == 1, "the next round detects"


def test_a_repository_check_whose_database_fails_leaves_its_health_alone(pair, monkeypatch):
    mapping, _, _ = pair
    monkeypatch.setattr(SandboxConnector, "ping", failing())
    with pytest.raises(OperationalError):
        check_repository(mapping.left)
    mapping.left.refresh_from_db()
    assert (mapping.left.healthy, mapping.left.last_failure, mapping.left.last_failure_at) == (True, "", None)


def test_an_operation_whose_database_fails_stays_running_and_continues(settings, monkeypatch):
    settings.SYNCWEB_OPERATION_CHUNK = 2
    mapping = factories.mapping()
    errors = [factories.sync(mapping, f"WEB-{n}", SyncStatus.ERROR) for n in range(5)]
    operation = operations.submit(
        "clear", operations.select_ids(s.pk for s in errors)
    )  # queued after commit: never here
    applying = operations._apply
    calls = []

    def fails_the_second_chunk(*args):
        calls.append(args)
        if len(calls) == 2:
            raise RESTARTED
        return applying(*args)

    monkeypatch.setattr(operations, "_apply", fails_the_second_chunk)
    with pytest.raises(OperationalError):
        operations.run(operation.pk)
    operation.refresh_from_db()
    assert (operation.state, operation.error, operation.done) == (Operation.State.RUNNING, "", 2)
    monkeypatch.undo()
    assert operations.run(operation.pk).state == Operation.State.FINISHED
    operation.refresh_from_db()
    assert operation.done == 5
    assert not Synchronization.objects.filter(status=SyncStatus.ERROR).exists()


def test_an_alert_rule_whose_database_fails_is_not_marked_failing(monkeypatch):
    Rule.objects.all().delete()
    made = Rule.objects.create(name="Backlog", kind=Rule.Kind.BACKLOG)
    monkeypatch.setitem(evaluator.CONDITIONS, Rule.Kind.BACKLOG, failing())
    with pytest.raises(OperationalError):
        evaluator.evaluate(timezone.now(), lease.state())
    made.refresh_from_db()
    assert (made.error, made.error_since) == ("", None)
