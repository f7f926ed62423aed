"""The engine end to end: a real Redis, real Celery worker and beat processes, two
sandbox repositories in the test database."""

import os
import signal
from pathlib import Path

import pytest
from django.utils import timezone

from metrics.models import SyncEvent
from synchronizations import operations
from synchronizations.connectors import connector_for
from synchronizations.models import Mapping, Operation, Repository, Synchronization, SyncStatus
from tests.conftest import wait_for
from tests.engine_fixtures import FIELD_MAP

pytestmark = pytest.mark.integration

# A fast clock for the tests: beat ticks every 0.3 s, a sync processing for more
# than 3 s counts as abandoned.
ENGINE = {"SYNCWEB_TICK": "0.3", "SYNCWEB_PROCESSING_TIMEOUT": "3", "SYNCWEB_BACKOFF_BASE": "1"}


@pytest.fixture
def engine(celery_processes):
    celery_processes.beat(**ENGINE)
    hostname, worker = celery_processes.worker(concurrency=1, **ENGINE)
    return celery_processes, hostname, worker


@pytest.fixture
def pair(transactional_db):
    left = Repository.objects.create(name="Left", kind="sandbox", settings={"key_prefix": "L"})
    right = Repository.objects.create(name="Right", kind="sandbox", settings={"key_prefix": "R"})
    mapping = Mapping.objects.create(name="L to R", left=left, right=right, field_map=FIELD_MAP, detection_interval=1)
    return mapping, connector_for(left), connector_for(right)


def synced(key):
    sync = Synchronization.objects.filter(left_key=key).first()
    return sync if sync is not None and sync.status == SyncStatus.OK and sync.right_key else None


def test_an_edited_artifact_reaches_its_counterpart(engine, pair):
    _, left, right = pair
    artifact = left.create("", {"title": "Checkout crashes", "status": "Open", "priority": "High"})
    sync = wait_for(lambda: synced(artifact.key), 30, "the new artifact to be created on the right")
    assert right.get(sync.right_key).fields == {"title": "Checkout crashes", "state": "New", "severity": "Major"}
    left.update(artifact.key, {"status": "Done"}, left.get(artifact.key).version)
    wait_for(lambda: right.get(sync.right_key).fields["state"] == "Closed", 30, "the edit to reach the right")
    # The tracker is written before the job commits its outcome (the event with it):
    # wait for that commit too, not only for the tracker (CI saw the count at 1).
    wait_for(lambda: SyncEvent.objects.filter(sync=sync).count() == 2, 30, "the update's event to be recorded")
    assert Synchronization.objects.get(pk=sync.pk).status == SyncStatus.OK


def test_an_unmappable_value_errors_and_retry_after_the_fix_recovers(engine, pair, operator):
    mapping, left, right = pair
    artifact = left.create("", {"title": "Login slow", "status": "Open", "priority": "Blocker"})

    def in_error():
        return Synchronization.objects.filter(left_key=artifact.key, status=SyncStatus.ERROR).first()

    sync = wait_for(in_error, 30, "the sync to land in error")
    assert sync.error_message == "Field 'priority' value 'Blocker' has no mapping to 'severity' in mapping 'L to R'"
    # The administrator adds the value to the map; the operator retries.
    field_map = [dict(rule) for rule in mapping.field_map]
    field_map[2]["values"] = {**field_map[2]["values"], "Blocker": "Critical"}
    Mapping.objects.filter(pk=mapping.pk).update(field_map=field_map)
    operations.perform(Operation.Action.RETRY, [sync.pk], user=operator)
    sync = wait_for(lambda: synced(artifact.key), 30, "the retried sync to be OK")
    assert right.get(sync.right_key).fields["severity"] == "Critical"
    assert SyncEvent.objects.filter(sync=sync, kind="created").exists()


def test_a_worker_killed_while_processing_does_not_leave_the_sync_stuck(engine, pair):
    processes, _, worker = engine
    mapping, left, _ = pair
    Repository.objects.filter(pk=mapping.right_id).update(settings={"key_prefix": "R", "latency_ms": 2000})
    artifact = left.create("", {"title": "Export drops a column", "status": "Open"})

    def processing():
        return Synchronization.objects.filter(left_key=artifact.key, status=SyncStatus.PROCESSING).exists()

    wait_for(processing, 30, "a worker to start processing the sync")
    started = timezone.now()
    # The whole worker, pool and all, with no chance to hand its job back: the message
    # stays unacknowledged in Redis, the sync in processing.
    pool = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    for pid in [worker.pid, *map(int, pool)]:
        os.kill(pid, signal.SIGKILL)
    worker.wait()
    processes.worker(concurrency=1, **ENGINE)  # a replacement worker
    sync = wait_for(lambda: synced(artifact.key), 60, "the abandoned sync to be processed by the new worker")
    assert sync.last_processed_at > started
    assert sync.log_entries.filter(message__startswith="Processing was lost (its worker stopped").exists()
