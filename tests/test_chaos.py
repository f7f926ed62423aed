"""The chaos suite: real Redis, real worker and beat processes, and the faults an
operator meets. A worker killed with SIGKILL in the middle of an operation, Redis
restarted in the middle of one, PostgreSQL restarted while syncs are processed,
Redis down while operators use the console. In each, nothing is lost and nothing
is done twice.

The figures each test measures are printed (pytest -s shows them); the README's
"What survives what" has them."""

import os
import shlex
import signal
import subprocess
import time

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import Count
from django.db.utils import DatabaseError, InterfaceError

from synchronizations import operations
from synchronizations.connectors import connector_for
from synchronizations.models import (
    LogEntry,
    Mapping,
    Operation,
    Repository,
    SandboxArtifact,
    Synchronization,
    SyncStatus,
)
from syncweb.celery import app as celery_app
from tests import factories
from tests.conftest import wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.django_db(transaction=True)]

SYNCS = 20_000
# Small chunks and a short stall, so that the faults land in the middle of the work
# and a lost job is noticed within seconds rather than a minute.
FAST = {"SYNCWEB_OPERATION_CHUNK": "100", "SYNCWEB_OPERATION_STALL": "2", "SYNCWEB_TICK": "0.5"}


def syncs_in_error(count: int) -> list[int]:
    mapping = factories.mapping("Chaos")
    Mapping.objects.filter(pk=mapping.pk).update(enabled=False)  # a Retry processes nothing
    Synchronization.objects.bulk_create(
        (
            Synchronization(mapping=mapping, left_key=f"C-{n}", status=SyncStatus.ERROR, error_message="boom")
            for n in range(count)
        ),
        batch_size=5000,
    )
    return list(Synchronization.objects.order_by("pk").values_list("pk", flat=True))


def progress(operation_id: int) -> Operation:
    return Operation.objects.only("state", "done", "skipped", "total").get(pk=operation_id)


def freeze_in_the_middle(worker: subprocess.Popen, operation_id: int) -> bool:
    """Stops ``worker`` (SIGSTOP) and says whether it stopped in the middle of the
    operation (some chunks done, not all); if not, lets it go on a moment."""
    worker.send_signal(signal.SIGSTOP)
    try:
        current = progress(operation_id)
    except DatabaseError:  # it was committing: the database is locked
        current = None
    if current is not None and current.state == Operation.State.RUNNING and 0 < current.done < current.total:
        return True
    worker.send_signal(signal.SIGCONT)
    time.sleep(0.005)
    return False


def assert_each_sync_acted_on_once(operation_id: int, ids: list[int]) -> None:
    operation = Operation.objects.get(pk=operation_id)
    assert (operation.state, operation.done, operation.skipped) == (Operation.State.FINISHED, len(ids), 0)
    entries = LogEntry.objects.filter(operation_id=operation_id)
    assert entries.count() == len(ids)
    assert not entries.values("sync_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
    assert set(Synchronization.objects.values_list("status", flat=True)) == {SyncStatus.OK}


def test_a_worker_killed_in_the_middle_of_an_operation(celery_processes, redis_server):
    ids = syncs_in_error(SYNCS)
    _, worker = celery_processes.worker(pool="solo", **FAST)
    started = time.monotonic()
    operation = operations.submit("clear", operations.select_ids(ids))
    wait_for(lambda: freeze_in_the_middle(worker, operation.pk), 60, "the operation to be under way", interval=0)
    worker.send_signal(signal.SIGKILL)  # frozen in the middle of its work: dies there
    worker.wait()
    left_at = progress(operation.pk)
    assert left_at.state == Operation.State.RUNNING and 0 < left_at.done < SYNCS, "killed too late to test anything"
    celery_processes.worker(pool="solo", **FAST)  # it looks for lost operations when it starts
    celery_processes.beat(**FAST)  # and beat does, every second here
    wait_for(lambda: progress(operation.pk).state == Operation.State.FINISHED, 120, "the operation to finish")
    print(
        f"\n[chaos] worker killed at {left_at.done}/{SYNCS}; finished {time.monotonic() - started:.1f} s after submit"
    )
    assert_each_sync_acted_on_once(operation.pk, ids)


def test_redis_restarted_in_the_middle_of_an_operation(celery_processes, redis_control, redis_server):
    ids = syncs_in_error(SYNCS)
    celery_processes.worker(pool="solo", **FAST)
    celery_processes.beat(**FAST)
    started = time.monotonic()
    operation = operations.submit("clear", operations.select_ids(ids))
    wait_for(lambda: progress(operation.pk).done > 0, 60, "the operation to make progress", interval=0.01)
    redis_control.restart()  # everything Redis held is gone
    at = progress(operation.pk).done
    wait_for(lambda: progress(operation.pk).state == Operation.State.FINISHED, 120, "the operation to finish")
    print(f"\n[chaos] Redis restarted at {at}/{SYNCS}; finished {time.monotonic() - started:.1f} s after submit")
    assert_each_sync_acted_on_once(operation.pk, ids)


def test_an_operation_whose_message_redis_lost_before_any_worker_took_it(celery_processes, redis_control, redis_server):
    ids = syncs_in_error(2_000)
    operation = operations.submit("clear", operations.select_ids(ids))  # queued; no worker yet
    assert Operation.objects.get(pk=operation.pk).dispatched_at is not None
    redis_control.restart()  # the queued message is lost with it
    started = time.monotonic()
    celery_processes.worker(pool="solo", **FAST)
    celery_processes.beat(**FAST)
    wait_for(lambda: progress(operation.pk).state == Operation.State.FINISHED, 60, "the operation to finish")
    print(f"\n[chaos] lost message: the operation finished {time.monotonic() - started:.1f} s after a worker started")
    assert_each_sync_acted_on_once(operation.pk, ids)


@pytest.fixture
def redis_down(redis_control, settings):
    """Redis stopped, and the web process sending real messages to it."""
    redis_control.stop()
    celery_app.conf.task_always_eager = False
    cache.clear()
    yield
    celery_app.conf.task_always_eager = True
    redis_control.start()
    cache.clear()


def test_with_redis_down_every_page_answers_and_says_what_is_down(client_as, operator, redis_down):
    mapping = factories.mapping()
    sync = factories.sync(mapping, "WEB-1", SyncStatus.ERROR)
    client = client_as(operator)
    client.raise_request_exception = False
    pages = [
        "/sync/", "/sync/syncs/", f"/sync/syncs/{sync.pk}/", "/sync/mappings/", f"/sync/mappings/{mapping.pk}/",
        "/sync/metrics/", "/sync/metrics/daily.json", "/sync/metrics/grouped.json", "/sync/logs/",
    ]  # fmt: skip
    started = time.monotonic()
    for page in pages:
        assert client.get(page).status_code == 200, page
    assert "Redis does not answer" in client.get("/sync/").content.decode()
    health = client.get("/sync/health/")
    assert health.status_code == 503 and health.json()["redis"]["ok"] is False
    acted = client.post("/sync/syncs/actions/", {"action": "retry", "ids": [sync.pk]}, follow=True)
    assert acted.status_code == 200
    assert "does not answer: it will run as soon as the queue is back" in acted.content.decode()
    operation = Operation.objects.get()
    assertion_page = client.get(operation.get_absolute_url()).content.decode()
    assert "Waiting for the job queue" in assertion_page
    print(f"\n[chaos] Redis down: {len(pages) + 3} requests answered in {time.monotonic() - started:.1f} s")


def restart_postgresql() -> None:
    subprocess.run(shlex.split(os.environ["SYNCWEB_TEST_PG_RESTART"]), check=True, timeout=120)


def reconnecting(predicate):
    """``predicate`` that survives the test's own connection dying with the server."""

    def attempt():
        try:
            return predicate()
        except (DatabaseError, InterfaceError):
            connection.close()
            return False

    return attempt


@pytest.mark.skipif(
    not os.environ.get("SYNCWEB_TEST_PG_RESTART"),
    reason="needs SYNCWEB_TEST_PG_RESTART, the command that restarts the PostgreSQL server (.ci/run sets it)",
)
def test_postgresql_restarted_while_syncs_are_processed(celery_processes, redis_server):
    if connection.vendor != "postgresql":
        pytest.skip("the tests run on SQLite")
    count = 300
    left = Repository.objects.create(name="Chaos left", kind="sandbox", settings={"key_prefix": "CL"})
    right = Repository.objects.create(
        name="Chaos right", kind="sandbox", settings={"key_prefix": "CR", "latency_ms": 20}
    )
    mapping = Mapping.objects.create(
        name="Chaos", left=left, right=right, detection_interval=1,
        field_map=[{"left": "title", "right": "title", "direction": "both"}],
    )  # fmt: skip
    source = connector_for(left)
    for n in range(count):
        source.create("", {"title": f"Chaos {n}"})
    env = {**FAST, "SYNCWEB_PROCESSING_TIMEOUT": "5"}
    celery_processes.worker(concurrency=2, **env)
    celery_processes.beat(**env)
    wait_for(lambda: Synchronization.objects.filter(mapping=mapping, status=SyncStatus.OK).count() > 20, 120, "work")
    started = time.monotonic()
    restart_postgresql()
    connection.close()
    done = reconnecting(lambda: Synchronization.objects.filter(mapping=mapping, status=SyncStatus.OK).count() == count)
    try:
        wait_for(done, 180, "every sync to end OK after the restart", interval=0.5)
    except pytest.fail.Exception:
        connection.close()
        statuses = dict(Synchronization.objects.filter(mapping=mapping).values_list("status").annotate(n=Count("pk")))
        errors = set(
            Synchronization.objects.filter(mapping=mapping)
            .exclude(error_message="")
            .values_list("error_message", flat=True)[:5]
        )
        pytest.fail(f"not every sync ended OK: {statuses}; errors: {errors}")
    print(f"\n[chaos] PostgreSQL restarted: all {count} syncs OK {time.monotonic() - started:.1f} s later")
    assert not Synchronization.objects.filter(status=SyncStatus.PROCESSING).exists()
    # Processed once each: one counterpart per sync, one "Created" entry per sync.
    assert SandboxArtifact.objects.filter(repository=right).count() == count
    created = LogEntry.objects.filter(mapping=mapping, message__startswith="Created ")
    assert created.count() == count
    assert not created.values("sync_id").annotate(n=Count("pk")).filter(n__gt=1).exists()
