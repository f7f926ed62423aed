"""Retry / Clear Errors / Clear Errors and Ignore Changes: the state rules."""

import pytest

from synchronizations import operations
from synchronizations.models import LogEntry, Mapping, Operation, Repository, Synchronization, SyncStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def syncs(db):
    repo = Repository.objects.create(name="R", kind="sandbox")
    mapping = Mapping.objects.create(name="M", left=repo, right=repo, right_scope="B")
    made = {}
    for number, status in enumerate(SyncStatus.values):
        made[status] = Synchronization.objects.create(
            mapping=mapping,
            left_key=f"A-{number}",
            status=status,
            error_message="boom" if status == SyncStatus.ERROR else "",
            ignore_changes=status == SyncStatus.IGNORED,
        )
    return made


def reload(sync):
    sync.refresh_from_db()
    return sync


def test_retry_queues_everything_but_processing(syncs, django_capture_on_commit_callbacks):
    ids = [s.pk for s in syncs.values()]
    with django_capture_on_commit_callbacks() as callbacks:
        applied = operations.retry(ids, actor="olga")
    assert (applied.done, applied.skipped) == (4, 1)
    assert len(callbacks) == 1  # one on-commit hook queues the four jobs
    assert reload(syncs["processing"]).status == SyncStatus.PROCESSING
    for status in ("ok", "pending", "error", "ignored"):
        sync = reload(syncs[status])
        assert sync.status == SyncStatus.PENDING
        assert sync.ignore_changes is False
    error = reload(syncs["error"])
    assert (error.error_message, error.retry_count) == ("boom", 1)  # kept for history
    assert LogEntry.objects.filter(message="Retry requested by olga.", actor="olga").count() == 4


@pytest.mark.parametrize(("ignore", "status"), [(False, SyncStatus.OK), (True, SyncStatus.IGNORED)])
def test_clear_errors_clears_without_processing(syncs, ignore, status, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        applied = operations.clear_errors([syncs["error"].pk], actor="olga", ignore_changes=ignore)
    assert applied.done == 1
    assert callbacks == []  # nothing queued
    sync = reload(syncs["error"])
    assert (sync.status, sync.error_message, sync.error_at, sync.ignore_changes) == (status, "", None, ignore)
    entry = LogEntry.objects.get(sync=sync)
    assert entry.actor == "olga" and entry.message.startswith("Error cleared by olga")


@pytest.mark.parametrize("other", ["ok", "pending", "processing", "ignored"])
def test_clear_is_refused_when_a_selected_sync_is_not_in_error(syncs, other):
    with pytest.raises(operations.ActionRefused, match="1 of the selected syncs are not in error"):
        operations.clear_errors([syncs["error"].pk, syncs[other].pk], actor="olga")
    assert reload(syncs["error"]).status == SyncStatus.ERROR
    assert not LogEntry.objects.exists()


def test_clear_is_refused_for_an_unknown_id(syncs):
    with pytest.raises(operations.ActionRefused, match="ids 999999"):
        operations.clear_errors([syncs["error"].pk, 999999], actor="olga")


def test_perform_records_an_operation_naming_the_user(syncs, operator):
    operation = operations.perform(Operation.Action.CLEAR, [syncs["error"].pk], user=operator)
    assert (operation.state, operation.total, operation.done, operation.requested_by) == ("finished", 1, 1, operator)
    assert LogEntry.objects.get(operation=operation).actor == "operator"


def test_perform_refuses_and_records_nothing_when_the_rule_is_broken(syncs, operator):
    with pytest.raises(operations.ActionRefused):
        operations.perform(Operation.Action.CLEAR_IGNORE, [syncs["ok"].pk], user=operator)
    assert not Operation.objects.exists()


def test_running_an_action_twice_changes_nothing_more(syncs):
    operations.clear_errors([syncs["error"].pk], actor="olga")
    with pytest.raises(operations.ActionRefused):
        operations.clear_errors([syncs["error"].pk], actor="olga")
    assert LogEntry.objects.count() == 1
