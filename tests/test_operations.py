"""Retry / Clear Errors / Clear Errors and Ignore Changes: the state rules, the
snapshot of "all matching", and running an operation twice."""

import pytest
from django.db import transaction

from synchronizations import jobs, operations
from synchronizations.models import LogEntry, Operation, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def syncs(db):
    return factories.one_in_each_status("boom")


def reload(sync):
    sync.refresh_from_db()
    return sync


@pytest.fixture
def sent(monkeypatch):
    """What synchronizations.jobs sent, as (task name, args)."""
    calls = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: calls.append((name, args)) or True)
    return calls


def test_retry_queues_everything_but_processing(syncs, operator, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operations.perform("retry", [s.pk for s in syncs.values()], user=operator)
    assert (operation.state, operation.total, operation.done, operation.skipped) == ("finished", 5, 4, 1)
    queued = sorted(pk for name, (ids,) in sent if name == jobs.PROCESS_SYNCS for pk in ids)
    assert queued == sorted(syncs[status].pk for status in ("ok", "pending", "error", "ignored"))
    assert reload(syncs["processing"]).status == SyncStatus.PROCESSING
    for status in ("ok", "pending", "error", "ignored"):
        sync = reload(syncs[status])
        assert (sync.status, sync.ignore_changes) == (SyncStatus.PENDING, False)
    error = reload(syncs["error"])
    assert (error.error_message, error.retry_count) == ("boom", 1)  # kept for history
    entries = LogEntry.objects.filter(operation=operation)
    assert entries.count() == 4
    assert {(e.message, e.actor) for e in entries} == {("Retry requested by operator.", "operator")}


@pytest.mark.parametrize(("action", "status"), [("clear", SyncStatus.OK), ("clear_ignore", SyncStatus.IGNORED)])
def test_clear_errors_clears_without_processing(
    syncs, operator, action, status, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operations.perform(action, [syncs["error"].pk], user=operator)
    assert operation.done == 1
    assert sent == []  # nothing queued
    sync = reload(syncs["error"])
    ignoring = action == "clear_ignore"
    assert (sync.status, sync.error_message, sync.error_at, sync.ignore_changes) == (status, "", None, ignoring)
    entry = LogEntry.objects.get(sync=sync)
    assert entry.actor == "operator" and entry.message.startswith("Error cleared by operator")


@pytest.mark.parametrize("other", ["ok", "pending", "processing", "ignored"])
def test_clear_is_refused_when_a_selected_sync_is_not_in_error(syncs, operator, other):
    with pytest.raises(operations.ActionRefused, match="1 of the selected syncs is not in error"):
        operations.perform("clear", [syncs["error"].pk, syncs[other].pk], user=operator)
    assert reload(syncs["error"]).status == SyncStatus.ERROR
    assert not LogEntry.objects.exists()
    assert not Operation.objects.exists()


def test_unknown_ids_are_reported_not_fatal(syncs, operator):
    operation = operations.perform("clear", [syncs["error"].pk, 999999], user=operator)
    assert (operation.done, operation.unknown_ids) == (1, [999999])


def test_nothing_selected_is_refused(syncs):
    with pytest.raises(operations.ActionRefused, match="No existing sync is selected"):
        operations.perform("retry", [999999])
    with pytest.raises(operations.ActionRefused, match="Unknown action"):
        operations.perform("delete", [syncs["ok"].pk])


def test_all_matching_acts_on_the_snapshot_taken_at_submit(syncs, operator, django_capture_on_commit_callbacks):
    in_error = Synchronization.objects.filter(status=SyncStatus.ERROR)
    with django_capture_on_commit_callbacks(execute=False):
        operation = operations.submit("clear", operations.select_matching(in_error, {"status": "error"}), user=operator)
    # After the submit: another sync falls into error, and a new one appears in error.
    Synchronization.objects.filter(pk=syncs["ok"].pk).update(status=SyncStatus.ERROR)
    late = Synchronization.objects.create(mapping=syncs["ok"].mapping, left_key="A-99", status=SyncStatus.ERROR)
    operations.run(operation.pk)
    assert reload(syncs["error"]).status == SyncStatus.OK
    assert reload(syncs["ok"]).status == SyncStatus.ERROR  # not touched
    assert reload(late).status == SyncStatus.ERROR  # not touched
    operation.refresh_from_db()
    assert (operation.total, operation.done, operation.filter_params) == (1, 1, {"status": "error"})
    assert operation.max_sync_id == syncs["ignored"].pk


def test_an_operation_run_twice_changes_nothing_more(syncs, operator):
    operation = operations.perform("retry", [syncs["ok"].pk, syncs["error"].pk], user=operator)
    assert operations.run(operation.pk).state == "finished"
    assert reload(syncs["ok"]).retry_count == 1
    assert LogEntry.objects.count() == 2


def test_a_run_that_died_continues_after_its_last_chunk(syncs, operator, settings):
    settings.SYNCWEB_OPERATION_CHUNK = 2
    ids = [syncs[s].pk for s in ("ok", "pending", "error", "ignored")]
    operation = operations.submit("retry", operations.select_ids(ids), user=operator, run_now=False)
    with transaction.atomic():  # the first chunk committed, then the worker died
        operations.apply_retry(ids[:2], actor="operator", operation=operation)
        Operation.objects.filter(pk=operation.pk).update(done=2, state="running")
    finished = operations.run(operation.pk)
    assert (finished.state, finished.done) == ("finished", 4)
    assert [reload(syncs[s]).retry_count for s in ("ok", "pending", "error", "ignored")] == [1, 1, 1, 1]
