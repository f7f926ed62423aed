"""Celery tasks: thin wrappers that take ids and call the engine."""

import time

from celery import shared_task

from synchronizations.engine import detect, process
from synchronizations.models import LogEntry

PROBE_PREFIX = "Worker probe "


@shared_task(bind=True)
def process_sync(self, sync_id: int) -> str:
    """Processes one sync. The task id is the claim: the same message delivered
    again after its worker died takes over its own claim."""
    return process.process_sync(sync_id, token=self.request.id or f"direct-{sync_id}")


@shared_task(bind=True)
def process_syncs(self, sync_ids: list[int]) -> dict[str, int]:
    """Processes several syncs one after the other; the task id is the claim of
    each, as for process_sync. Returns how many ended in each status."""
    return process.process_batch(sync_ids, token=self.request.id or "direct-batch")


@shared_task
def run_operation(operation_id: int) -> str:
    """Applies an operator action, chunk by chunk; a second delivery continues it."""
    from synchronizations import operations

    return operations.run(operation_id).state


@shared_task
def detect_mapping(mapping_id: int) -> str:
    return str(detect.detect_changes(mapping_id))


@shared_task
def dispatch_detection() -> int:
    """Beat, every few seconds: queues change detection of the mappings that are due."""
    due = detect.mappings_due()
    for mapping_id in due:
        detect_mapping.delay(mapping_id)
    return len(due)


@shared_task
def dispatch_due_syncs() -> int:
    """Beat, every few seconds: queues the pending syncs whose retry time has come."""
    return process.queue_due()


@shared_task
def reap_stuck_syncs() -> int:
    """Beat: puts back syncs whose worker died while processing them."""
    return process.reap_stuck()


@shared_task(bind=True)
def probe(self, token: str, hold: float = 0.0) -> None:
    """A round trip through the broker, a worker and the database: records that a
    worker answered probe ``token``. Running it twice records it once.

    ``hold`` keeps the worker busy that many seconds first, to watch what happens to
    a job whose worker dies or is stopped meanwhile."""
    if hold:
        time.sleep(min(hold, 60.0))
    if LogEntry.objects.filter(message__startswith=f"{PROBE_PREFIX}{token} ").exists():
        return
    LogEntry.objects.create(
        level=LogEntry.Level.DEBUG, message=f"{PROBE_PREFIX}{token} answered by {self.request.hostname}"
    )


def probe_answer(token: str) -> LogEntry | None:
    return LogEntry.objects.filter(message__startswith=f"{PROBE_PREFIX}{token} ").first()
