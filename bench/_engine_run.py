"""One run of bench/engine_throughput.py, inside the run's own database and Redis."""

import json
import sys
import time

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402

from synchronizations import jobs  # noqa: E402
from synchronizations.connectors import connector_for  # noqa: E402
from synchronizations.demo import FIELD_MAP  # noqa: E402
from synchronizations.engine import detect, process  # noqa: E402
from synchronizations.models import (  # noqa: E402
    Mapping,
    Repository,
    SandboxArtifact,
    SandboxKeyNumber,
    SandboxSequence,
    Synchronization,
    SyncStatus,
)


def setup(name: str, count: int) -> Mapping:
    left = Repository.objects.create(name=f"{name} left", kind="sandbox", settings={"key_prefix": f"{name}L"})
    right = Repository.objects.create(name=f"{name} right", kind="sandbox", settings={"key_prefix": f"{name}R"})
    mapping = Mapping.objects.create(name=name, left=left, right=right, field_map=FIELD_MAP)
    fields = {"title": "Bug", "status": "Open", "priority": "High"}
    SandboxArtifact.objects.bulk_create(
        SandboxArtifact(repository=left, key=f"{name}L-{n}", fields=fields, change_seq=n) for n in range(1, count + 1)
    )
    SandboxSequence.objects.create(repository=left, last=count)
    SandboxKeyNumber.raise_to(left.pk, f"{name}L", count)  # no key of them is given again
    connector_for(left)  # the registry is loaded before timing
    # Detection creates the pending syncs; the timed part queues them itself.
    queue, jobs.queue_processing = jobs.queue_processing, lambda ids: None
    while detect.detect_changes(mapping.pk).created:
        pass
    jobs.queue_processing = queue
    return mapping


def wait_all_ok(mapping: Mapping, count: int) -> None:
    while True:
        statuses = dict(Synchronization.objects.filter(mapping=mapping).values_list("status").annotate(n=Count("id")))
        if statuses.get(SyncStatus.OK, 0) == count:
            return
        time.sleep(0.05)


def main(count: int) -> None:
    mapping = setup("A", count)
    ids = list(Synchronization.objects.filter(mapping=mapping).values_list("pk", flat=True))
    started = time.perf_counter()
    for start in range(0, len(ids), jobs.QUEUE_BATCH):  # as a worker runs the jobs detection queues
        process.process_batch(ids[start : start + jobs.QUEUE_BATCH], f"bench-{start}")
    in_process = count / (time.perf_counter() - started)
    assert Synchronization.objects.filter(mapping=mapping, status=SyncStatus.OK).count() == count

    mapping = setup("B", count)
    ids = list(Synchronization.objects.filter(mapping=mapping).values_list("pk", flat=True))
    started = time.perf_counter()
    with transaction.atomic():  # queued as detection queues them: in jobs of QUEUE_BATCH syncs
        jobs.queue_processing(ids)
    wait_all_ok(mapping, count)
    one_worker = count / (time.perf_counter() - started)
    print(json.dumps({"in_process": in_process, "one_worker": one_worker}))


if __name__ == "__main__":
    main(int(sys.argv[1]))
