"""Bounded redelivery: a job delivered again while its first delivery still runs
never processes a sync twice at once, and a sync whose processing is lost again and
again (its worker dies, the reaper puts it back) goes to the error queue after
SYNCWEB_MAX_ATTEMPTS attempts instead of being retried for ever."""

import ast
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from synchronizations import jobs, operations
from synchronizations.connectors import connector_for
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.models import (
    LogEntry,
    Mapping,
    Repository,
    SandboxArtifact,
    Synchronization,
    SyncStatus,
    error_pattern,
)
from syncweb.celery import app as celery_app
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db


def new_syncs(mapping, left, count: int) -> list[int]:
    for number in range(count):
        left.create("", {"title": f"Crash {number}", "status": "Open"})
    detect_changes(mapping.pk)
    return list(Synchronization.objects.order_by("pk").values_list("pk", flat=True))


def created_entries(mapping):
    return LogEntry.objects.filter(mapping=mapping, message__startswith="Created ")


# --- Two deliveries of one job -------------------------------------------------------


def test_each_delivery_claims_with_a_token_of_its_own_that_fits(monkeypatch):
    tokens = []
    monkeypatch.setattr(
        process, "process_claimed", lambda ids, token: tokens.append(token) or dict.fromkeys(ids, "skipped")
    )
    long_id = "x" * 200  # a task id may be anything a client chose
    for job_id in ("3f0c2b1e-0000-4000-8000-000000000001", "3f0c2b1e-0000-4000-8000-000000000001", long_id):
        process.process_batch([1], job_id)
    assert len(set(tokens)) == 3
    assert tokens[0].startswith("3f0c2b1e-0000-4000-8000-000000000001/")
    field = Synchronization._meta.get_field("claimed_by")
    assert all(len(token) <= field.max_length for token in tokens)


def test_a_second_delivery_of_the_same_job_skips_what_the_first_holds(mapping, left, right, monkeypatch):
    """The second delivery (same task id) runs while the first is in the middle of
    writing the counterparts: it leaves the syncs the first holds to the first.
    Each sync processed once."""
    ids = new_syncs(mapping, left, 3)
    create = SandboxConnector.create_many
    second: dict = {}

    def create_while_delivered_again(connector, scope, fields):
        monkeypatch.undo()  # once
        second.update(process.process_batch(ids, "task-1"))
        return create(connector, scope, fields)

    monkeypatch.setattr(SandboxConnector, "create_many", create_while_delivered_again)
    first = process.process_batch(ids, "task-1")
    assert second == {"skipped": 3}
    assert first == {SyncStatus.OK: 3}
    assert set(Synchronization.objects.values_list("status", flat=True)) == {SyncStatus.OK}
    assert SandboxArtifact.objects.filter(repository=mapping.right).count() == 3
    assert created_entries(mapping).count() == 3


# --- The reaper counts a lost processing as an attempt ------------------------------


def lose(sync_id: int, token: str = "dead-delivery") -> int:  # noqa: S107  (a claim token)
    """The sync is claimed by a delivery that dies: it stays processing past the
    timeout, and the reaper finds it. Returns what the reaper put back or gave up on."""
    Synchronization.objects.filter(pk=sync_id).update(next_retry_at=None)  # its backoff has passed
    assert Synchronization.objects.filter(pk=sync_id).claim(token, timezone.now()) == [sync_id]
    long_ago = timezone.now() - timedelta(minutes=10)
    Synchronization.objects.filter(pk=sync_id).update(processing_started_at=long_ago)
    return process.reap_stuck(timedelta(minutes=5))


def test_a_lost_processing_is_an_attempt_and_comes_back_after_the_backoff(mapping, left):
    (sync_id,) = new_syncs(mapping, left, 1)
    before = timezone.now()
    assert lose(sync_id) == 1
    sync = Synchronization.objects.get(pk=sync_id)
    assert (sync.status, sync.claimed_by, sync.attempts, sync.lost_count, sync.retry_count) == (
        SyncStatus.PENDING, "", 1, 1, 1
    )  # fmt: skip
    # The usual backoff of a first failed attempt: half to all of SYNCWEB_BACKOFF_BASE.
    base = timedelta(seconds=settings.SYNCWEB_BACKOFF_BASE)
    assert before + base / 2 <= sync.next_retry_at <= timezone.now() + base
    entry = LogEntry.objects.get(sync_id=sync_id, level=LogEntry.Level.WARNING)
    assert f"attempt 1 of {settings.SYNCWEB_MAX_ATTEMPTS}" in entry.message
    assert process.queue_due() == 0  # not before its backoff


def test_the_reaper_gives_up_at_the_attempt_limit_saying_how_often_processing_was_lost(mapping, left):
    (sync_id,) = new_syncs(mapping, left, 1)
    limit = settings.SYNCWEB_MAX_ATTEMPTS
    for _ in range(limit - 1):
        assert lose(sync_id) == 1
        assert Synchronization.objects.get(pk=sync_id).status == SyncStatus.PENDING
    assert lose(sync_id) == 1
    sync = Synchronization.objects.get(pk=sync_id)
    message = (
        f"Processing was lost {limit} times (its worker stopped or exceeded the processing timeout); "
        f"gave up after {limit} attempts."
    )
    assert (sync.status, sync.error_message, sync.error_pattern) == (SyncStatus.ERROR, message, error_pattern(message))
    assert (sync.attempts, sync.lost_count, sync.claimed_by, sync.next_retry_at) == (limit, limit, "", None)
    assert LogEntry.objects.filter(sync_id=sync_id, level=LogEntry.Level.ERROR, message=message).count() == 1
    assert lose_again_is_impossible(sync_id)


def lose_again_is_impossible(sync_id: int) -> bool:
    """A sync in the error queue is not claimed, so the reaper has nothing more to do."""
    return Synchronization.objects.filter(pk=sync_id).claim("another", timezone.now()) == []


def test_transient_failures_and_a_loss_share_the_attempt_limit(mapping, left):
    (sync_id,) = new_syncs(mapping, left, 1)
    limit = settings.SYNCWEB_MAX_ATTEMPTS
    Synchronization.objects.filter(pk=sync_id).update(attempts=limit - 1)  # as after transient failures
    assert lose(sync_id) == 1
    sync = Synchronization.objects.get(pk=sync_id)
    assert sync.status == SyncStatus.ERROR
    assert sync.error_message.startswith("Processing was lost once (")
    assert sync.error_message.endswith(f"gave up after {limit} attempts.")


def test_a_success_and_an_operators_retry_start_the_count_of_lost_processings_again(mapping, left, operator):
    first, second = new_syncs(mapping, left, 2)
    assert lose(first) == 1
    Synchronization.objects.filter(pk=first).update(next_retry_at=None)
    assert process.process_sync(first, "new-delivery") == SyncStatus.OK
    assert Synchronization.objects.filter(pk=first).values_list("lost_count", "attempts").get() == (0, 0)

    for _ in range(settings.SYNCWEB_MAX_ATTEMPTS):
        lose(second)
    assert Synchronization.objects.get(pk=second).status == SyncStatus.ERROR
    operations.perform("retry", [second], user=operator)
    assert Synchronization.objects.filter(pk=second).values_list("lost_count", "attempts").get() == (0, 0)
    assert lose(second) == 1  # counted from 1 again, not given up at once
    assert Synchronization.objects.get(pk=second).status == SyncStatus.PENDING


def test_a_sync_that_finished_meanwhile_is_left_alone_by_the_reaper(mapping, left):
    (sync_id,) = new_syncs(mapping, left, 1)
    assert process.process_sync(sync_id, "quick") == SyncStatus.OK
    assert process.reap_stuck(timedelta(seconds=0)) == 0
    assert Synchronization.objects.get(pk=sync_id).lost_count == 0


def test_the_docstrings_no_longer_promise_that_a_redelivery_takes_its_claims_back():
    """tasks.process_syncs said the opposite once; the README's "How syncing works" too."""
    root = Path(__file__).resolve().parent.parent
    tree = ast.parse((root / "synchronizations" / "tasks.py").read_text())
    docs = " ".join(ast.get_docstring(node) or "" for node in ast.walk(tree) if isinstance(node, ast.FunctionDef))
    readme = (root / "README.md").read_text()
    for text in (docs, readme):
        assert not re.search(r"takes? (over|back) its own claim", text)


# --- The same message delivered twice to a real worker ------------------------------


@pytest.mark.integration
def test_a_job_delivered_twice_while_running_processes_each_sync_once(celery_processes):
    count = 8
    left_repo = Repository.objects.create(name="Slow left", kind="sandbox", settings={"key_prefix": "SL"})
    right_repo = Repository.objects.create(
        name="Slow right", kind="sandbox", settings={"key_prefix": "SR", "latency_ms": 250}
    )
    mapping = Mapping.objects.create(
        name="Slow", left=left_repo, right=right_repo,
        field_map=[{"left": "title", "right": "title", "direction": "both"}],
    )  # fmt: skip
    source = connector_for(left_repo)
    keys = [source.create("", {"title": f"Slow {n}"}).key for n in range(count)]
    ids = [Synchronization.objects.create(mapping=mapping, left_key=key).pk for key in keys]
    celery_processes.worker(concurrency=2)
    log_path = celery_processes.started[-1][1]
    task_id = "redelivered-0000-4000-8000-000000000001"
    # The broker hands the same message out again (its visibility timeout passed)
    # while the first delivery is still processing: same task id, same syncs.
    for _ in range(2):
        celery_app.signature(jobs.PROCESS_SYNCS, args=(ids,)).apply_async(task_id=task_id)

    def results_of_both_deliveries() -> list[dict] | None:
        found = re.findall(rf"Task \S+\[{task_id}\] succeeded in [\d.]+s: (\{{.*\}})", log_path.read_text())
        return [ast.literal_eval(text) for text in found] if len(found) == 2 else None

    results = wait_for(results_of_both_deliveries, 120, "both deliveries to end")
    # Never both at once on one sync: the later writer would have lost its claim and
    # rolled back (which a real tracker's write cannot be).
    assert "claim lost" not in log_path.read_text()
    said = list(LogEntry.objects.filter(sync_id__in=ids).values_list("message", flat=True)[:5])
    assert sum(result.get("ok", 0) for result in results) == count, (results, said)
    assert all(sum(result.values()) == count for result in results)
    assert set(Synchronization.objects.filter(pk__in=ids).values_list("status", flat=True)) == {SyncStatus.OK}
    assert SandboxArtifact.objects.filter(repository=right_repo).count() == count
    created = created_entries(mapping)
    assert created.count() == count
    assert not created.values("sync_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
