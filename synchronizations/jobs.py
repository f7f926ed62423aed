"""Queueing background work: the one module that sends Celery messages.

Work is sent by task name, once the current transaction commits, so that a worker
never looks for a row that is not there yet, and so that nothing here imports the
tasks: ``tasks.py`` imports the engine and the operations, and they import this
module, never the reverse (background work flows one way, as Zulip's
``queue_event_on_commit``).

A broker that cannot take a message does not make the caller fail: the failure is
logged and the work stays recorded in the database (syncs pending and due, an
Operation not dispatched), where beat's periodic rounds find it again
(``dispatch_due_syncs`` for syncs, ``redispatch_operations`` for operations).
"""

import functools
import logging
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from synchronizations.models import Synchronization
from syncweb.celery import app

logger = logging.getLogger(__name__)

PROCESS_SYNCS = "synchronizations.tasks.process_syncs"
RUN_OPERATION = "synchronizations.tasks.run_operation"
DETECT_MAPPING = "synchronizations.tasks.detect_mapping"

# Syncs per job when many are queued at once (a Retry of 100,000 is 1,000 jobs, not
# 100,000 messages); one job processes its syncs one after the other.
QUEUE_BATCH = 100
# What a broker that is down raises when a message is sent to it.
BROKER_DOWN = (OperationalError, RedisError, OSError)


@functools.cache
def _discover_tasks() -> None:
    """Registers the tasks of the installed apps in this process (Celery's own
    autodiscovery, which a worker runs at start and a web process never does), so
    that in eager mode (tests) a message runs in place through its task. Otherwise
    a message is sent by name and nothing is imported."""
    app.loader.import_default_modules()


def send(task_name: str, *args) -> bool:
    """Sends one message for the task named ``task_name`` with ``args`` now. Returns
    False, having logged why, when the broker cannot take it. An exception the task
    itself raises in eager mode (tests) is not swallowed."""
    if app.conf.task_always_eager:
        _discover_tasks()  # (a worker has them; a web process sends by name alone)
    try:
        # No retries here: what the broker does not take now stays recorded and is sent
        # again later, so no request waits on a broker that hangs. No result either:
        # sent by name, a task's ignore_result is unknown, and Celery would subscribe
        # to its result in Redis first (20 s of reconnecting, then a RuntimeError).
        app.signature(task_name, args=args).apply_async(retry=False, ignore_result=True)
    except BROKER_DOWN as exc:
        if app.conf.task_always_eager:
            raise  # in place: the task's own error, not a broker's
        logger.warning("could not queue %s%r: the broker did not take it (%s); it stays recorded", task_name, args, exc)
        return False
    return True


def send_on_commit(
    task_name: str,
    *args,
    on_sent: Callable[[], None] | None = None,
    on_refused: Callable[[], None] | None = None,
) -> None:
    """send() once the current transaction commits (at once outside one); then
    ``on_sent()`` if the broker took the message, ``on_refused()`` if not."""

    def deliver() -> None:
        sent = send(task_name, *args)
        callback = on_sent if sent else on_refused
        if callback is not None:
            callback()

    transaction.on_commit(deliver)


def queue_processing(sync_ids: list[int]) -> None:
    """Queues processing of ``sync_ids`` after commit, in jobs of up to QUEUE_BATCH
    syncs. The syncs must be pending; what the broker does not take is made due, and
    beat queues it again once the broker answers."""
    for start in range(0, len(sync_ids), QUEUE_BATCH):
        batch = sync_ids[start : start + QUEUE_BATCH]
        send_on_commit(PROCESS_SYNCS, batch, on_refused=lambda batch=batch: _due_again(batch))


def _due_again(sync_ids: list[int]) -> None:
    """The broker did not take these syncs' job: they are made due, so that beat's
    next round (dispatch_due_syncs) queues them as soon as the broker answers."""
    Synchronization.objects.filter(pk__in=sync_ids).make_due(timezone.now())


def queue_operation(operation_id: int, on_sent: Callable[[], None] | None = None) -> None:
    """Queues the run of Operation ``operation_id`` after commit; ``on_sent()`` once
    the broker took it."""
    send_on_commit(RUN_OPERATION, operation_id, on_sent=on_sent)


def queue_detection(mapping_id: int) -> None:
    """Queues change detection of Mapping ``mapping_id`` (at once, or after commit)."""
    send_on_commit(DETECT_MAPPING, mapping_id)
