"""Celery tasks: thin wrappers that take ids and call the engine or the operations.

Tasks import the engine; the engine never imports tasks: it queues work by task
name through synchronizations.jobs, whose names must match these."""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.db import DatabaseError

from synchronizations import jobs, operations, rescans
from synchronizations.engine import detect, health, process

logger = logging.getLogger(__name__)


@shared_task(bind=True, name=jobs.PROCESS_SYNCS)
def process_syncs(self, sync_ids: list[int]) -> dict[str, int]:
    """Processes several syncs one after the other. Each delivery claims them with a
    token of its own (the task id and a nonce, process.process_batch): the same
    message delivered again while the first delivery still runs skips the syncs that
    one holds, and the syncs of a delivery whose worker died are put back by the
    reaper, counted as an attempt. Returns how many ended in each status."""
    return process.process_batch(sync_ids, self.request.id or "direct-batch")


@shared_task(name=jobs.RUN_OPERATION)
def run_operation(operation_id: int) -> str:
    """Applies an operator action, chunk by chunk; a second delivery continues it."""
    return operations.run(operation_id).state


@shared_task(name=jobs.DETECT_MAPPING)
def detect_mapping(mapping_id: int) -> str:
    """Change detection of one mapping; returns what it found, in words."""
    return str(detect.detect_changes(mapping_id))


@shared_task
def dispatch_detection() -> int:
    """Beat, every few seconds: queues change detection of the mappings that are due."""
    due = detect.mappings_due()
    for mapping_id in due:
        jobs.queue_detection(mapping_id)
    return len(due)


@shared_task
def dispatch_due_syncs() -> int:
    """Beat, every few seconds: queues the pending syncs whose retry time has come."""
    return process.queue_due()


@shared_task
def reap_stuck_syncs() -> int:
    """Beat: puts back syncs whose worker died while processing them."""
    return process.reap_stuck()


@shared_task
def request_full_scans() -> int:
    """Beat: requests the periodic full rescan of the mappings due for one
    (rescans.request_due); returns how many."""
    return len(rescans.request_due())


@shared_task
def check_repositories() -> int:
    """Beat: calls each unhealthy repository that is due for a check; those that
    answer recover and their mappings resume. Returns how many recovered."""
    return len(health.check_unhealthy())


@shared_task
def redispatch_operations() -> int:
    """Beat: dispatches again the operations whose job was lost; returns how many."""
    return len(operations.redispatch_stalled())


@worker_ready.connect
def _redispatch_when_a_worker_starts(sender, **kwargs) -> None:
    """A worker that starts picks up the operations whose job was lost meanwhile
    (the broker was down when they were submitted, or their worker was killed)."""
    try:
        operations.redispatch_stalled()
    except DatabaseError:
        logger.warning("could not look for lost operations at worker start", exc_info=True)
