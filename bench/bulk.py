"""The bulk scenario: "Select all matching" Retry over every sync in error (100,000
at large scale), POSTed by an operator; then one real Celery worker (one process,
the real Redis of the run) applies the Operation. Timed: the POST, and from the
POST to the Operation finished.

The data set is put back afterwards (status, error and retry count; the times of
the update stay): the syncs put into error for the scenario go back to OK, the
others back to error, and the Operation with its log entries goes. The bench
mappings are disabled, so the worker leaves the retried syncs pending (a disabled
mapping's syncs are not processed).
"""

import re
import statistics
import subprocess
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.test import Client
from django.utils import timezone

from bench.dataset import vacuum
from bench.processes import start_worker
from bench.scenarios import QueryCounter, clients
from runtime.tasks import probe, probe_answer
from runtime.workers import redis_client
from synchronizations.models import LogEntry, Operation, Synchronization, SyncStatus

SIZES = {"small": 1_000, "large": 100_000}
WORKER_LOG = Path(settings.VAR_DIR) / "bench-worker.log"
EXTRA_MESSAGE = "Connection timed out after 30 s"


def _top_up(size: int) -> list[int]:
    """Puts OK syncs into error until ``size`` are; returns their ids."""
    missing = size - Synchronization.objects.filter(status=SyncStatus.ERROR).count()
    if missing <= 0:
        return []
    ids = list(
        Synchronization.objects.filter(status=SyncStatus.OK).order_by("pk").values_list("pk", flat=True)[:missing]
    )
    now = timezone.now()
    for start in range(0, len(ids), 10_000):
        Synchronization.objects.filter(pk__in=ids[start : start + 10_000]).fail(EXTRA_MESSAGE, now=now, processed=False)
    return ids


def _put_back(operation: Operation | None, extra: list[int]) -> None:
    with transaction.atomic():
        if operation is not None:
            ids = operation.sync_ids or []
            for start in range(0, len(ids), 10_000):
                # Puts the data set back as it was before the Retry (which kept the
                # error fields): a repair of the bench's data, not a sync state change.
                Synchronization.objects.filter(pk__in=ids[start : start + 10_000]).update(
                    status=SyncStatus.ERROR, retry_count=F("retry_count") - 1
                )
            LogEntry.objects.filter(operation=operation).delete()
            operation.delete()
        now = timezone.now()
        for start in range(0, len(extra), 10_000):
            Synchronization.objects.filter(pk__in=extra[start : start + 10_000]).clear(now)


def _start_worker() -> subprocess.Popen:
    worker = start_worker(stdout=WORKER_LOG.open("w"), stderr=subprocess.STDOUT)
    token = uuid.uuid4().hex
    probe.delay(token)
    deadline = time.monotonic() + 60
    while probe_answer(token) is None:
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"the Celery worker did not start; see {WORKER_LOG}")
        time.sleep(0.1)
    return worker


def run_once(client: Client, size: int) -> dict:
    extra = _top_up(size)
    operation = None
    worker = _start_worker()
    try:
        # The confirmation page first (untimed), then the timed POST of its form, as
        # an operator's browser sends it on Confirm.
        asked = client.post("/sync/syncs/actions/", {"action": "retry", "select_all": "1", "status": "error"})
        form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', asked.content.decode()))
        form.pop("csrfmiddlewaretoken", None)
        queries = QueryCounter()
        with connection.execute_wrapper(queries):
            began = time.perf_counter()
            response = client.post("/sync/syncs/actions/", form)
            post_ms = (time.perf_counter() - began) * 1000
        if response.status_code != 302:
            raise RuntimeError(f"the POST answered {response.status_code}")
        operation = Operation.objects.only("pk").order_by("-pk").first()
        active = [Operation.State.QUEUED, Operation.State.RUNNING]
        while Operation.objects.filter(pk=operation.pk, state__in=active).exists():
            time.sleep(0.02)
        done_ms = (time.perf_counter() - began) * 1000
        operation = Operation.objects.get(pk=operation.pk)
        if operation.state != Operation.State.FINISHED:
            raise RuntimeError(f"the operation ended {operation.state}: {operation.error}")
        return {"syncs": operation.total, "post_ms": post_ms, "post_queries": len(queries), "done_ms": done_ms}
    finally:
        worker.kill()
        worker.wait()
        _put_back(operation, extra)
        redis_client().flushdb()  # the processing jobs the retry queued
        vacuum()  # the next run starts where the first did, not among 200,000 dead rows


def run_bulk(scale: str, runs: int = 3) -> dict:
    """Median of ``runs`` runs, each on the same data set (put back in between)."""
    vacuum()
    client: Client = clients()["operator"]
    results = [run_once(client, SIZES[scale]) for _ in range(runs)]
    return {
        "syncs": results[0]["syncs"],
        "runs": runs,
        "post_ms": round(statistics.median(r["post_ms"] for r in results), 1),
        "post_queries": results[0]["post_queries"],
        "done_ms": round(statistics.median(r["done_ms"] for r in results), 1),
    }
