"""One run of bench/trackers_throughput.py, inside the run's own database and Redis,
with the run's workers already started: sandbox -> the tracker of BENCH_TRACKER."""

import json
import os
import sys
import time

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from synchronizations import jobs  # noqa: E402
from synchronizations.connectors import connector_for  # noqa: E402
from synchronizations.engine import detect  # noqa: E402
from synchronizations.models import (  # noqa: E402
    Mapping,
    Repository,
    SandboxArtifact,
    SandboxKeyNumber,
    SandboxSequence,
    Synchronization,
    SyncStatus,
)

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "status", "right": "status", "direction": "left_to_right"},
    {"left": "priority", "right": "priority", "direction": "left_to_right"},
]
VALUES = {"roundup": {"status": "unread", "priority": "bug"}, "redmine": {"status": "New", "priority": "High"}}
# A run that has not finished in this long has failed (seconds).
DEADLINE = 600


def setup(tracker: dict, count: int) -> Mapping:
    kind = tracker["kind"]
    left = Repository.objects.create(name="Bench source", kind="sandbox", settings={"key_prefix": "S"})
    right = Repository(name=kind, kind=kind, base_url=tracker["base_url"], username=tracker["username"])
    right.set_secret(tracker["secret"])
    right.save()
    mapping = Mapping.objects.create(
        name=f"to {kind}", left=left, right=right, right_scope=tracker["scope"], field_map=FIELD_MAP
    )
    fields = {"title": "Benchmark issue", **VALUES[kind]}
    SandboxArtifact.objects.bulk_create(
        SandboxArtifact(repository=left, key=f"S-{n}", fields=fields, change_seq=n) for n in range(1, count + 1)
    )
    SandboxSequence.objects.create(repository=left, last=count)
    SandboxKeyNumber.raise_to(left.pk, "S", count)  # no key of them is given again
    connector_for(right).ping()  # the tracker answers before timing
    # Detection creates the pending syncs; the timed part queues them itself.
    queue, jobs.queue_processing = jobs.queue_processing, lambda ids: None
    while detect.detect_changes(mapping.pk).created:
        pass
    jobs.queue_processing = queue
    return mapping


def wait_all_ok(mapping: Mapping, count: int) -> None:
    deadline = time.monotonic() + DEADLINE
    while True:
        statuses = dict(Synchronization.objects.filter(mapping=mapping).values_list("status").annotate(n=Count("id")))
        if statuses.get(SyncStatus.OK, 0) == count:
            return
        if statuses.get(SyncStatus.ERROR) or time.monotonic() > deadline:
            errors = set(
                Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).values_list(
                    "error_message", flat=True
                )[:5]
            )
            sys.exit(f"not every sync ended OK: {statuses}; errors: {errors}")
        time.sleep(0.05)


def main(count: int) -> None:
    mapping = setup(json.loads(os.environ["BENCH_TRACKER"]), count)
    ids = list(Synchronization.objects.filter(mapping=mapping).values_list("pk", flat=True))
    started = time.perf_counter()
    with transaction.atomic():  # queued as detection queues them: in jobs of QUEUE_BATCH syncs
        jobs.queue_processing(ids)
    wait_all_ok(mapping, count)
    print(json.dumps({"per_second": count / (time.perf_counter() - started)}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
