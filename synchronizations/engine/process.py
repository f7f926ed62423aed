"""Processing one sync: claim it, read both sides, carry the changes over, record
what happened. Transient failures come back with a backoff; permanent ones go to
the error queue at once."""

import logging
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from metrics import rollup
from metrics.models import EventKind
from synchronizations.connectors import Artifact, connector_for
from synchronizations.engine import fieldmap
from synchronizations.engine.errors import PermanentError, SyncError, TransientError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import LogEntry, Mapping, Synchronization, SyncStatus, error_pattern

logger = logging.getLogger(__name__)


class ClaimLost(Exception):
    """Another job took the sync over (the reaper decided this one was dead)."""


def backoff(attempt: int) -> timedelta:
    """Delay before automatic attempt ``attempt + 1``: exponential, capped, with
    jitter (between half and all of it) so that failed syncs do not retry in step."""
    ceiling = min(settings.SYNCWEB_BACKOFF_MAX, settings.SYNCWEB_BACKOFF_BASE * 2 ** (attempt - 1))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # noqa: S311  (jitter, not secrets)


def claim(sync_id: int, token: str) -> bool:
    """pending -> processing, for one job only. The same job delivered again (its
    worker died) may take its own claim back."""
    now = timezone.now()
    due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    claimable = Q(status=SyncStatus.PENDING) & due | Q(status=SyncStatus.PROCESSING, claimed_by=token)
    return bool(
        Synchronization.objects.filter(claimable, pk=sync_id).update(
            status=SyncStatus.PROCESSING, claimed_by=token, processing_started_at=now, next_retry_at=None
        )
    )


@dataclass
class Result:
    """What processing decided after reading both sides: the write to make (if any),
    then what to save with the sync, all in one transaction."""

    event: str | None = None
    messages: list[tuple[str, str]] = field(default_factory=list)  # (level, message)
    changes: dict = field(default_factory=dict)  # sync fields to save
    write: Callable[[], None] | None = None

    def log(self, message: str, level: str = LogEntry.Level.INFO) -> None:
        self.messages.append((level, message))


def process_sync(sync_id: int, token: str) -> str:
    """Processes one sync if it can be claimed; returns the status it ended in, or
    "skipped" when it was not pending (or not due yet)."""
    if not claim(sync_id, token):
        return "skipped"
    sync = Synchronization.objects.select_related("mapping__left", "mapping__right").get(pk=sync_id)
    if not sync.mapping.enabled:
        # A disabled mapping's syncs wait, pending, until it is enabled again (the
        # reaper queues them then).
        _claimed(sync, token).update(status=SyncStatus.PENDING, **_released(timezone.now()))
        return "skipped"
    try:
        result = carry_over(sync)  # reads only: no write lock is held meanwhile
        with transaction.atomic():
            if result.write is not None:
                result.write()
            return finish(sync, token, result)
    except ClaimLost:
        logger.warning("sync %s: claim lost to another job; its work was rolled back", sync_id)
        return "skipped"
    except TransientError as exc:
        return fail_transient(sync, token, exc)
    except SyncError as exc:
        return fail_permanent(sync, token, exc)
    except Exception as exc:  # a bug, or a connector raising something unexpected
        logger.exception("sync %s: unexpected error", sync_id)
        return fail_permanent(sync, token, PermanentError(f"Unexpected error: {exc!r}", traceback.format_exc()))


def process_batch(sync_ids: list[int], token: str) -> dict[str, int]:
    """Processes the syncs of one job one after the other (the token claims each);
    returns how many ended in each status, "skipped" included."""
    ended: dict[str, int] = {}
    for sync_id in sync_ids:
        status = process_sync(sync_id, token)
        ended[status] = ended.get(status, 0) + 1
    return ended


def carry_over(sync: Synchronization) -> Result:
    """Reads both sides and decides: which side changed, and the write that carries
    its mapped fields to the other side (``result.write``, run by the caller)."""
    mapping: Mapping = sync.mapping
    connectors = {LEFT: connector_for(mapping.left), RIGHT: connector_for(mapping.right)}
    keys = {LEFT: sync.left_key, RIGHT: sync.right_key}
    read = {side: connectors[side].get(keys[side]) if keys[side] else None for side in (LEFT, RIGHT)}
    names = {side: fieldmap.relevant_fields(mapping.field_map, side) for side in (LEFT, RIGHT)}
    stored = {LEFT: sync.left_fingerprint, RIGHT: sync.right_fingerprint}
    result = Result()

    if read[LEFT] is None and read[RIGHT] is None:
        raise PermanentError("The sync has no artifact on either side.")
    if read[RIGHT] is None or read[LEFT] is None:
        source = LEFT if read[RIGHT] is None else RIGHT
    else:
        changed = [
            side for side in (LEFT, RIGHT) if fieldmap.fingerprint(read[side].fields, names[side]) != stored[side]
        ]
        if not changed:
            result.log("No changes to carry over.")
            _remember(result, read, names)
            return result
        source = changed[0] if len(changed) == 1 else _resolve_conflict(mapping, read, result)

    target = RIGHT if source == LEFT else LEFT
    repository = {LEFT: mapping.left, RIGHT: mapping.right}
    fields = fieldmap.transform(mapping.field_map, source, read[source].fields, mapping.name)
    origin = f"{read[source].key} in '{repository[source].name}'"
    current = read[target]
    if current is not None and all(current.fields.get(name) == value for name, value in fields.items()):
        result.log(f"{current.key} already matches {origin}; nothing written.")
        _remember(result, read, names)
        return result

    def write() -> None:
        if current is None:
            scope = mapping.right_scope if target == RIGHT else mapping.left_scope
            written = connectors[target].create(scope, fields)
            result.event = EventKind.CREATED
            result.log(f"Created {written.key} in '{repository[target].name}' from {origin}.")
        else:
            written = connectors[target].update(current.key, fields, current.version)
            result.event = EventKind.UPDATED
            changed = ", ".join(sorted(name for name, value in fields.items() if current.fields.get(name) != value))
            result.log(f"Updated {written.key} in '{repository[target].name}' from {origin}: {changed}.")
        _remember(result, {**read, target: written}, names)

    result.write = write
    return result


def _resolve_conflict(mapping: Mapping, read: dict[str, Artifact], result: Result) -> str:
    policy = mapping.conflict_policy
    if policy == Mapping.ConflictPolicy.LEFT:
        source = LEFT
    elif policy == Mapping.ConflictPolicy.RIGHT:
        source = RIGHT
    else:
        source = LEFT if read[LEFT].updated_at >= read[RIGHT].updated_at else RIGHT
    result.log(
        f"Both {read[LEFT].key} and {read[RIGHT].key} changed since the last sync; conflict policy "
        f"'{mapping.get_conflict_policy_display()}' chose {read[source].key} ({source} side).",
        LogEntry.Level.WARNING,
    )
    return source


def _remember(result: Result, read: dict[str, Artifact], names: dict[str, list[str]]) -> None:
    """What both sides look like now, so that the next change detection can tell our
    own writes (same fingerprint) from new edits."""
    for side in (LEFT, RIGHT):
        artifact = read[side]
        result.changes[f"{side}_key"] = artifact.key
        result.changes[f"{side}_url"] = artifact.url
        result.changes[f"{side}_fingerprint"] = fieldmap.fingerprint(artifact.fields, names[side])
    title = read[LEFT].fields.get("title") or read[RIGHT].fields.get("title")
    if title:
        result.changes["title"] = str(title)[:500]


def _claimed(sync: Synchronization, token: str):
    return Synchronization.objects.filter(pk=sync.pk, status=SyncStatus.PROCESSING, claimed_by=token)


def _released(now) -> dict:
    return {"claimed_by": "", "processing_started_at": None, "updated_at": now}


def finish(sync: Synchronization, token: str, result: Result) -> str:
    """Saves a success (inside the caller's transaction, with the write it made)."""
    now = timezone.now()
    done = {
        **result.changes,
        **_released(now),
        "last_processed_at": now,
        "error_message": "",
        "error_pattern": "",
        "error_detail": "",
        "error_at": None,
        "attempts": 0,
    }
    status = SyncStatus.OK
    if not _claimed(sync, token).filter(recheck=False).update(status=status, **done):
        # A change arrived while we worked: process once more.
        if not _claimed(sync, token).update(status=SyncStatus.PENDING, recheck=False, **done):
            raise ClaimLost
        status = SyncStatus.PENDING
        result.log("Changed again while being processed; queued once more.")
        queue_on_commit([sync.pk])
    if result.event:
        rollup.record(mapping_id=sync.mapping_id, kind=result.event, sync_id=sync.pk, when=now)
    _write_log(sync, result.messages, now)
    return status


def fail_transient(sync: Synchronization, token: str, exc: TransientError) -> str:
    now = timezone.now()
    attempts = sync.attempts + 1
    limit = settings.SYNCWEB_MAX_ATTEMPTS
    if attempts >= limit:
        gave_up = PermanentError(f"{exc.message} (gave up after {attempts} attempts)", exc.detail)
        return fail_permanent(sync, token, gave_up)
    delay = backoff(attempts)
    updated = _claimed(sync, token).update(
        status=SyncStatus.PENDING,
        attempts=attempts,
        retry_count=F("retry_count") + 1,
        next_retry_at=now + delay,
        **_released(now),
    )
    if updated:
        message = f"Attempt {attempts} of {limit} failed: {exc.message}. Next attempt in {delay.total_seconds():.0f} s."
        _write_log(sync, [(LogEntry.Level.WARNING, message)], now, detail=exc.detail)
    return SyncStatus.PENDING


def fail_permanent(sync: Synchronization, token: str, exc: SyncError) -> str:
    now = timezone.now()
    updated = _claimed(sync, token).update(
        status=SyncStatus.ERROR,
        error_message=exc.message,
        error_pattern=error_pattern(exc.message),
        error_detail=exc.detail,
        error_at=now,
        last_processed_at=now,
        attempts=F("attempts") + 1,
        **_released(now),
    )
    if updated:
        _write_log(sync, [(LogEntry.Level.ERROR, f"Processing failed: {exc.message}")], now, detail=exc.detail)
    return SyncStatus.ERROR


def _write_log(sync: Synchronization, messages: list[tuple[str, str]], now, detail: str = "") -> None:
    LogEntry.objects.bulk_create(
        LogEntry(
            timestamp=now, level=level, message=message, detail=detail, sync_id=sync.pk, mapping_id=sync.mapping_id
        )
        for level, message in messages
    )


# Syncs per job when many are queued at once (a Retry of 100,000 is 1,000 jobs, not
# 100,000 messages); one job processes them one after the other.
QUEUE_BATCH = 100


def queue_on_commit(sync_ids: list[int]) -> None:
    """Queues processing of the syncs once the current transaction commits, in jobs
    of up to QUEUE_BATCH syncs. If the broker is unreachable then, the failure is
    logged and the syncs stay pending: the reaper queues them again after
    SYNCWEB_PROCESSING_TIMEOUT."""
    from synchronizations.tasks import process_sync, process_syncs

    def send() -> None:
        for start in range(0, len(sync_ids), QUEUE_BATCH):
            batch = sync_ids[start : start + QUEUE_BATCH]
            if len(batch) == 1:
                process_sync.delay(batch[0])
            else:
                process_syncs.delay(batch)

    if sync_ids:
        transaction.on_commit(send, robust=True)


def reap_stuck(timeout: timedelta | None = None) -> int:
    """Puts back to pending the syncs left in processing longer than ``timeout`` (their
    worker died), and queues again pending syncs whose job has waited that long (the
    message was lost); returns how many syncs it put back."""
    timeout = timeout or timedelta(seconds=settings.SYNCWEB_PROCESSING_TIMEOUT)
    now = timezone.now()
    cutoff = now - timeout
    Synchronization.objects.filter(status=SyncStatus.PENDING, next_retry_at__isnull=True, updated_at__lt=cutoff).update(
        next_retry_at=now, updated_at=now
    )
    reaped = []
    stuck = Synchronization.objects.filter(status=SyncStatus.PROCESSING, processing_started_at__lt=cutoff)
    for sync in stuck.only("pk", "mapping_id")[:1000]:
        with transaction.atomic():
            if stuck.filter(pk=sync.pk).update(status=SyncStatus.PENDING, next_retry_at=now, **_released(now)):
                message = (
                    f"Processing did not finish within {timeout.total_seconds():.0f} s (worker lost?); queued again."
                )
                _write_log(sync, [(LogEntry.Level.WARNING, message)], now)
                reaped.append(sync.pk)
    return len(reaped)


def queue_due(limit: int = 5000) -> int:
    """Queues the pending syncs whose (re)try time has come; returns how many."""
    now = timezone.now()
    due = Synchronization.objects.filter(status=SyncStatus.PENDING, next_retry_at__lte=now)
    ids = list(due.order_by("next_retry_at").values_list("pk", flat=True)[:limit])
    with transaction.atomic():
        # Unset the time, so that the next round does not queue them again.
        Synchronization.objects.filter(pk__in=ids, status=SyncStatus.PENDING).update(next_retry_at=None, updated_at=now)
        queue_on_commit(ids)
    return len(ids)
