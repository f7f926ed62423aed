"""Processing one sync: claim it, read both sides, decide what to carry over (a
plan), apply the plan, record what happened. Transient failures come back with a
backoff; permanent ones go to the error queue at once.

Every change of a sync's state is a SynchronizationQuerySet method (models.py);
queueing goes through synchronizations.jobs. Nothing here imports Celery tasks."""

import logging
import random
import secrets
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from metrics import rollup
from metrics.models import EventKind
from synchronizations import jobs
from synchronizations.connectors import Artifact, Connector, connector_for
from synchronizations.engine import fieldmap, health, wording
from synchronizations.engine.errors import PermanentError, RepositoryError, SyncError, TransientError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import LogEntry, Mapping, Synchronization, SyncStatus

logger = logging.getLogger(__name__)

# Both sides of a sync as read: None for a side whose artifact is not created yet.
Sides = dict[str, Artifact | None]


class ClaimLost(Exception):
    """Another job took the sync over (the reaper decided this one was dead)."""


def backoff(attempt: int) -> timedelta:
    """Delay before automatic attempt ``attempt + 1``: exponential from
    SYNCWEB_BACKOFF_BASE seconds, capped at SYNCWEB_BACKOFF_MAX, with jitter (between
    half and all of it) so that failed syncs do not retry in step (README, "How syncing works")."""
    ceiling = min(settings.SYNCWEB_BACKOFF_MAX, settings.SYNCWEB_BACKOFF_BASE * 2 ** (attempt - 1))
    return timedelta(seconds=ceiling * random.uniform(0.5, 1.0))  # noqa: S311  (jitter, not secrets)


@dataclass(frozen=True)
class Plan:
    """What processing decided after reading both sides, before writing anything.

    ``read``: both artifacts as read (None: not created yet). ``source``: the side
    whose fields are carried over, or None when nothing is to be written.
    ``fields``: the fields to write on the other side (the target), already through
    the field map. ``messages``: (level, text) log lines decided while planning."""

    read: Sides
    source: str | None = None
    fields: dict = field(default_factory=dict)
    messages: tuple[tuple[str, str], ...] = ()

    @property
    def target(self) -> str | None:
        if self.source is None:
            return None
        return RIGHT if self.source == LEFT else LEFT


@dataclass
class Outcome:
    """What applying a plan did: the sync fields to save (keys, URLs, fingerprints,
    title), the log lines, and the metrics event (created / updated) if any."""

    changes: dict
    messages: list[tuple[str, str]]
    event: str | None = None


def connectors_of(mapping: Mapping) -> dict[str, Connector]:
    """The connector of each side of ``mapping``. PermanentError for a repository kind
    that has no connector."""
    return {LEFT: connector_for(mapping.left), RIGHT: connector_for(mapping.right)}


def plan(sync: Synchronization, connectors: dict[str, Connector]) -> Plan:
    """Reads both sides of ``sync`` and decides which side changed and what to write.
    Reads only. Raises the connectors' errors, PermanentError when neither side
    exists, and UnmappableValue for a value the field map cannot carry."""
    mapping: Mapping = sync.mapping
    keys = {LEFT: sync.left_key, RIGHT: sync.right_key}
    read = {side: connectors[side].get(keys[side]) if keys[side] else None for side in (LEFT, RIGHT)}
    names = {side: fieldmap.relevant_fields(mapping.field_map, side) for side in (LEFT, RIGHT)}
    stored = {LEFT: sync.left_fingerprint, RIGHT: sync.right_fingerprint}

    if read[LEFT] is None and read[RIGHT] is None:
        raise PermanentError("The sync has no artifact on either side.")
    messages: list[tuple[str, str]] = []
    if read[RIGHT] is None or read[LEFT] is None:
        source = LEFT if read[RIGHT] is None else RIGHT
    else:
        changed = [
            side for side in (LEFT, RIGHT) if fieldmap.fingerprint(read[side].fields, names[side]) != stored[side]
        ]
        if not changed:
            return Plan(read, messages=((LogEntry.Level.INFO, wording.nothing_to_carry()),))
        if len(changed) == 1:
            source = changed[0]
        else:
            source = _resolve_conflict(mapping, read)
            messages.append((LogEntry.Level.WARNING, _conflict_message(mapping, read, source)))

    fields = fieldmap.transform(mapping.field_map, source, read[source].fields, mapping.name)
    target = RIGHT if source == LEFT else LEFT
    current = read[target]
    if current is not None and all(current.fields.get(name) == value for name, value in fields.items()):
        repository = mapping.left if source == LEFT else mapping.right
        messages.append(
            (
                LogEntry.Level.INFO,
                wording.already_matches(current.key, wording.origin(read[source].key, repository.name)),
            )
        )
        return Plan(read, messages=tuple(messages))
    return Plan(read, source, fields, tuple(messages))


def apply(plan: Plan, sync: Synchronization, connectors: dict[str, Connector]) -> Outcome:
    """Carries ``plan`` out: creates or updates the target artifact (nothing when the
    plan has no source), and says what to save and log. Raises the connectors'
    errors (ConflictError when the target changed since it was read)."""
    mapping: Mapping = sync.mapping
    names = {side: fieldmap.relevant_fields(mapping.field_map, side) for side in (LEFT, RIGHT)}
    messages = list(plan.messages)
    if plan.source is None:
        return Outcome(_remembered(plan.read, names), messages)
    source, target = plan.source, plan.target
    repository = {LEFT: mapping.left, RIGHT: mapping.right}
    origin = wording.origin(plan.read[source].key, repository[source].name)
    current = plan.read[target]
    if current is None:
        scope = mapping.right_scope if target == RIGHT else mapping.left_scope
        written = connectors[target].create(scope, plan.fields)
        event = EventKind.CREATED
        messages.append((LogEntry.Level.INFO, wording.created(written.key, repository[target].name, origin)))
    else:
        written = connectors[target].update(current.key, plan.fields, current.version)
        event = EventKind.UPDATED
        changed = [name for name, value in plan.fields.items() if current.fields.get(name) != value]
        messages.append((LogEntry.Level.INFO, wording.updated(written.key, repository[target].name, origin, changed)))
    return Outcome(_remembered({**plan.read, target: written}, names), messages, event)


def process_sync(sync_id: int, token: str) -> str:
    """Processes one sync if job ``token`` can claim it; returns the status it ended
    in, or "skipped" when it was not pending (or not due yet), its mapping is
    disabled or paused, a repository refused our credentials (the sync waits,
    pending, and the repository is marked unhealthy), or another job took it over."""
    now = timezone.now()
    if not Synchronization.objects.filter(pk=sync_id).claim(token, now):
        return "skipped"
    sync = Synchronization.objects.select_related("mapping__left", "mapping__right").get(pk=sync_id)
    if not sync.mapping.enabled or sync.mapping.paused_reason:
        # A disabled or paused mapping's syncs wait, pending, until it is enabled
        # again (the reaper queues them then) or its repository is healthy again
        # (health.resume queues them then).
        Synchronization.objects.filter(pk=sync_id).claimed(token).release(now)
        return "skipped"
    try:
        connectors = connectors_of(sync.mapping)
        decided = plan(sync, connectors)  # reads only: no write lock is held meanwhile
        with transaction.atomic():
            return finish(sync, token, apply(decided, sync, connectors))
    except ClaimLost:
        logger.warning("sync %s: claim lost to another job; its work was rolled back", sync_id)
        return "skipped"
    except TransientError as exc:
        return fail_transient(sync, token, exc)
    except RepositoryError as exc:
        health.repository_refused(sync.mapping, exc)
        Synchronization.objects.filter(pk=sync_id).claimed(token).release(timezone.now())
        return "skipped"
    except SyncError as exc:
        return fail_permanent(sync, token, exc)
    except Exception as exc:  # a bug, or a connector raising something unexpected
        logger.exception("sync %s: unexpected error", sync_id)
        return fail_permanent(sync, token, PermanentError(f"Unexpected error: {exc!r}", traceback.format_exc()))


def process_batch(sync_ids: list[int], job_id: str) -> dict[str, int]:
    """Processes the syncs of one delivery of job ``job_id`` one after the other;
    returns how many ended in each status, "skipped" included.

    Each call is one delivery, with a claim token of its own: the job id (cut to
    fit) and a random nonce, at most 64 characters (claimed_by). So a job the broker
    delivers again while its first delivery still runs (a visibility timeout shorter
    than the job) skips the syncs the first one holds, never processing a sync twice
    at once; the syncs of a delivery that died come back through reap_stuck()."""
    token = f"{job_id[:47]}/{secrets.token_hex(8)}"
    ended: dict[str, int] = {}
    for sync_id in sync_ids:
        status = process_sync(sync_id, token)
        ended[status] = ended.get(status, 0) + 1
    return ended


def _resolve_conflict(mapping: Mapping, read: Sides) -> str:
    """The side whose fields win when both changed: the mapping's conflict policy."""
    policy = mapping.conflict_policy
    if policy == Mapping.ConflictPolicy.LEFT:
        return LEFT
    if policy == Mapping.ConflictPolicy.RIGHT:
        return RIGHT
    return LEFT if read[LEFT].updated_at >= read[RIGHT].updated_at else RIGHT


def _conflict_message(mapping: Mapping, read: Sides, source: str) -> str:
    return wording.conflict(
        read[LEFT].key, read[RIGHT].key, mapping.get_conflict_policy_display(), read[source].key, source
    )


def _remembered(read: Sides, names: dict[str, list[str]]) -> dict:
    """What both sides look like now (keys, URLs, fingerprints, the title), so that
    the next change detection can tell our own writes (same fingerprint) from new edits."""
    changes = {}
    for side in (LEFT, RIGHT):
        artifact = read[side]
        changes[f"{side}_key"] = artifact.key
        changes[f"{side}_url"] = artifact.url
        changes[f"{side}_fingerprint"] = fieldmap.fingerprint(artifact.fields, names[side])
    title = read[LEFT].fields.get("title") or read[RIGHT].fields.get("title")
    if title:
        changes["title"] = str(title)[:500]
    return changes


def finish(sync: Synchronization, token: str, outcome: Outcome) -> str:
    """Saves a success (inside the caller's transaction, with the write it made):
    status ok, or pending and queued again when a change arrived meanwhile. Raises
    ClaimLost when another job holds the sync now (the caller's transaction rolls
    the write back)."""
    now = timezone.now()
    ended = Synchronization.objects.filter(pk=sync.pk).finish(token, now, **outcome.changes)
    if sync.pk not in ended:
        raise ClaimLost
    status = ended[sync.pk]
    messages = list(outcome.messages)
    if status == SyncStatus.PENDING:
        messages.append((LogEntry.Level.INFO, wording.changed_while_processing()))
        jobs.queue_processing([sync.pk])
    if outcome.event:
        rollup.record(mapping_id=sync.mapping_id, kind=outcome.event, sync_id=sync.pk, when=now)
    _write_log(sync, messages, now)
    return status


def fail_transient(sync: Synchronization, token: str, exc: TransientError) -> str:
    """A failure worth trying again: pending with a backoff, up to
    SYNCWEB_MAX_ATTEMPTS attempts; then a permanent failure saying so."""
    now = timezone.now()
    attempts = sync.attempts + 1
    limit = settings.SYNCWEB_MAX_ATTEMPTS
    if attempts >= limit:
        return fail_permanent(sync, token, PermanentError(wording.gave_up(exc.message, attempts), exc.detail))
    health.call_failed(exc, now)
    delay = max(backoff(attempts), timedelta(seconds=exc.retry_after or 0))
    mine = Synchronization.objects.filter(pk=sync.pk).claimed(token)
    if mine.release(now, retry_at=now + delay, failed_attempt=True):
        message = wording.attempt_failed(attempts, limit, exc.message, delay.total_seconds())
        _write_log(sync, [(LogEntry.Level.WARNING, message)], now, detail=exc.detail)
    return SyncStatus.PENDING


def fail_permanent(sync: Synchronization, token: str, exc: SyncError) -> str:
    """A failure that will repeat until someone changes something: the error queue."""
    now = timezone.now()
    if Synchronization.objects.filter(pk=sync.pk).claimed(token).fail(exc.message, exc.detail, now=now):
        _write_log(sync, [(LogEntry.Level.ERROR, wording.processing_failed(exc.message))], now, detail=exc.detail)
    return SyncStatus.ERROR


def _write_log(sync: Synchronization, messages: list[tuple[str, str]], now: datetime, detail: str = "") -> None:
    LogEntry.objects.bulk_create(
        LogEntry(
            timestamp=now, level=level, message=message, detail=detail, sync_id=sync.pk, mapping_id=sync.mapping_id
        )
        for level, message in messages
    )


# How many stuck syncs one reaper round puts back.
REAP_LIMIT = 1000


def reap_stuck(timeout: timedelta | None = None) -> int:
    """Puts back the syncs left in processing longer than ``timeout`` (default
    SYNCWEB_PROCESSING_TIMEOUT; their worker died or is stuck), and makes due again
    the pending syncs whose job has waited that long (the message was lost).

    A lost processing counts as a failed attempt (and one more in lost_count): the
    sync goes back to pending with the usual backoff, or, at its
    SYNCWEB_MAX_ATTEMPTS-th attempt, to the error queue saying how often its
    processing was lost, so that a sync that kills its worker is not redelivered
    for ever (README, "How syncing works"). At most REAP_LIMIT syncs a round;
    returns how many it put back or gave up on."""
    timeout = timeout or timedelta(seconds=settings.SYNCWEB_PROCESSING_TIMEOUT)
    limit = settings.SYNCWEB_MAX_ATTEMPTS
    now = timezone.now()
    cutoff = now - timeout
    Synchronization.objects.filter(next_retry_at__isnull=True, updated_at__lt=cutoff).make_due(now)
    stuck = Synchronization.objects.filter(status=SyncStatus.PROCESSING, processing_started_at__lt=cutoff)
    # Syncs with as many attempts and lost processings so far share a fate and a
    # message: one UPDATE and one INSERT of log entries per group.
    groups: dict[tuple[int, int], list[int]] = {}
    for pk, attempts, lost in stuck.order_by("pk").values_list("pk", "attempts", "lost_count")[:REAP_LIMIT]:
        groups.setdefault((attempts, lost), []).append(pk)
    reaped = 0
    with transaction.atomic():
        for (attempts, lost), ids in sorted(groups.items()):
            # Still as read: one that finished or was reaped meanwhile is left alone.
            group = stuck.filter(pk__in=ids, attempts=attempts, lost_count=lost)
            attempt = attempts + 1
            if attempt >= limit:
                message = wording.processing_lost_gave_up(lost + 1, attempt)
                changed = group.fail(message, now=now, processed=False, lost=True)
                level = LogEntry.Level.ERROR
            else:
                delay = backoff(attempt)
                changed = group.release(now, retry_at=now + delay, lost=True)
                message = wording.processing_lost(timeout.total_seconds(), attempt, limit, delay.total_seconds())
                level = LogEntry.Level.WARNING
            LogEntry.objects.add_for_syncs(changed, message, level=level, at=now)
            reaped += len(changed)
    return reaped


def queue_due(limit: int = 5000) -> int:
    """Queues the pending syncs whose (re)try time has come, the longest waiting
    first, at most ``limit``; returns how many."""
    now = timezone.now()
    due = Synchronization.objects.filter(status=SyncStatus.PENDING, next_retry_at__lte=now)
    with transaction.atomic():
        ids = due.filter(pk__in=Subquery(due.order_by("next_retry_at").values("pk")[:limit])).take_due(now)
        jobs.queue_processing(ids)
    return len(ids)
