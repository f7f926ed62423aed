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

from metrics import processing, rollup
from metrics.models import EventKind
from synchronizations import jobs
from synchronizations.connectors import Artifact, Connector, connector_for
from synchronizations.engine import fieldmap, health, merge, wording
from synchronizations.engine.errors import (
    ArtifactDeleted,
    BothDeleted,
    PermanentError,
    RepositoryError,
    SyncError,
    TransientError,
)
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

    ``read``: both artifacts as read (None: not created yet). ``writes``: the fields
    to write on each side ({side: {field: value}}, already through the field map;
    a side whose artifact is not created yet is created with them). ``messages``:
    (level, text) log lines decided while planning. ``conflicts``: the fields left
    for an operator (conflict policy "raise an error")."""

    read: Sides
    writes: dict = field(default_factory=lambda: {LEFT: {}, RIGHT: {}})
    messages: tuple[tuple[str, str], ...] = ()
    conflicts: tuple[merge.FieldConflict, ...] = ()


@dataclass
class Outcome:
    """What applying a plan did: the sync fields to save (keys, URLs, fingerprints,
    baseline, title), the log lines, and the metrics event (created / updated) if any."""

    changes: dict
    messages: list[tuple[str, str]]
    event: str | None = None


class Conflicted(SyncError):
    """Fields changed on both sides under the policy "raise an error": what could be
    carried was, and the sync goes to the error queue with ``outcome`` saved."""

    def __init__(self, outcome: Outcome, conflicts: tuple[merge.FieldConflict, ...]):
        names = [
            c.left_field if c.left_field == c.right_field else f"{c.left_field} ↔ {c.right_field}" for c in conflicts
        ]
        super().__init__(
            wording.conflicts_left(names),
            "Open the sync, choose which side's value to keep for each field, and Resolve.",
        )
        self.outcome = outcome
        self.context = {"kind": "conflict", "fields": [conflict.as_dict() for conflict in conflicts]}


def connectors_of(mapping: Mapping) -> dict[str, Connector]:
    """The connector of each side of ``mapping``. PermanentError for a repository kind
    that has no connector."""
    return {LEFT: connector_for(mapping.left), RIGHT: connector_for(mapping.right)}


def merge_context(sync: Synchronization) -> merge.Context:
    """What merging needs from the sync and its mapping (merge.Context)."""
    mapping: Mapping = sync.mapping
    resolution = sync.error_context if sync.error_context.get("kind") == "conflict" else {}
    return merge.Context(
        field_map=mapping.field_map,
        mapping=mapping.name,
        policy=mapping.conflict_policy,
        policy_label=mapping.get_conflict_policy_display(),
        repositories={LEFT: mapping.left.name, RIGHT: mapping.right.name},
        synced=sync.synced or {},
        fingerprints={LEFT: sync.left_fingerprint, RIGHT: sync.right_fingerprint},
        choices=resolution.get("choices") or {},
    )


def plan(sync: Synchronization, connectors: dict[str, Connector], seen: dict[str, str] | None = None) -> Plan:
    """Reads both sides of ``sync`` and decides, field by field, what to write where
    (engine/merge.py). Reads only; ``seen`` (if given) receives the version of each
    side as read, {"left_version": ..., ...}, even when planning then fails.
    Raises the connectors' errors (ArtifactDeleted for a side that is gone),
    PermanentError when neither side exists, merge.MissingField and UnmappableValue."""
    keys = {LEFT: sync.left_key, RIGHT: sync.right_key}
    if not keys[LEFT] and not keys[RIGHT]:
        raise PermanentError("The sync has no artifact on either side.")
    read: Sides = {}
    gone: dict[str, ArtifactDeleted] = {}
    for side in (LEFT, RIGHT):
        try:
            read[side] = connectors[side].get(keys[side]) if keys[side] else None
        except ArtifactDeleted as exc:
            gone[side], read[side] = exc, None
        if read[side] is not None and seen is not None:
            seen[f"{side}_version"] = read[side].version[:200]
    if len(gone) == 2:
        raise BothDeleted(gone[LEFT], gone[RIGHT])
    if gone:
        raise next(iter(gone.values()))
    merged = merge.merge(read, merge_context(sync))
    writes = {side: fields for side, fields in merged.writes.items() if fields or read[side] is None}
    if not writes and not merged.conflicts and not merged.messages:
        return Plan(read, {}, ((LogEntry.Level.INFO, wording.nothing_to_carry()),))
    return Plan(read, writes, tuple(merged.messages), tuple(merged.conflicts))


def apply(plan: Plan, sync: Synchronization, connectors: dict[str, Connector], token: str = "") -> Outcome:
    """Carries ``plan`` out: creates the side that does not exist yet (recording its
    key at once, in its own commit, so that change detection knows it before the
    sync finishes) or updates each side that has fields to write, and says what to
    save and log. Raises the connectors' errors (ConflictError when a side changed
    since it was read) and ClaimLost when the sync was taken over before a created
    key could be recorded."""
    mapping: Mapping = sync.mapping
    repository = {LEFT: mapping.left, RIGHT: mapping.right}
    messages = list(plan.messages)
    after = dict(plan.read)
    event = None
    for side, fields in plan.writes.items():
        current = plan.read[side]
        source = merge.other(side)
        origin = wording.origin(plan.read[source].key, repository[source].name)
        if current is None:
            scope = mapping.right_scope if side == RIGHT else mapping.left_scope
            written = connectors[side].create(scope, fields)
            if token and not Synchronization.objects.filter(pk=sync.pk).claimed(token).record_created(
                side, written.key, written.url, written.version
            ):
                logger.warning("sync %s: claim lost after creating %s; it is not linked", sync.pk, written.key)
                raise ClaimLost
            event = EventKind.CREATED
            messages.append((LogEntry.Level.INFO, wording.created(written.key, repository[side].name, origin)))
        else:
            written = connectors[side].update(current.key, fields, current.version)
            event = event or EventKind.UPDATED
            changed = [name for name, value in fields.items() if current.fields.get(name) != value]
            messages.append((LogEntry.Level.INFO, wording.updated(written.key, repository[side].name, origin, changed)))
        after[side] = written
    changes = _remembered(after, mapping.field_map)
    changes["synced"] = merge.baseline(mapping.field_map, after, sync.synced or {}, list(plan.conflicts))
    return Outcome(changes, messages, event)


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
    seen: dict[str, str] = {}  # the versions read, kept with an error (detection compares them)
    try:
        connectors = connectors_of(sync.mapping)
        decided = plan(sync, connectors, seen)  # reads only
        # The trackers' writes happen outside any database transaction (they cannot
        # be rolled back); a created key is recorded at once, and the rest is saved
        # together with the log once every write succeeded.
        outcome = apply(decided, sync, connectors, token)
        if decided.conflicts:
            raise Conflicted(outcome, decided.conflicts)
        with transaction.atomic():
            return finish(sync, token, outcome)
    except ClaimLost:
        logger.warning("sync %s: claim lost to another job", sync_id)
        return "skipped"
    except TransientError as exc:
        return fail_transient(sync, token, exc, seen=seen)
    except RepositoryError as exc:
        health.repository_refused(sync.mapping, exc)
        Synchronization.objects.filter(pk=sync_id).claimed(token).release(timezone.now())
        return "skipped"
    except Conflicted as exc:
        return fail_permanent(sync, token, exc, context=exc.context, outcome=exc.outcome)
    except ArtifactDeleted as exc:
        return fail_permanent(sync, token, exc, context=_deleted_context(sync, exc), seen=seen)
    except SyncError as exc:
        return fail_permanent(sync, token, exc, seen=seen)
    except Exception as exc:  # a bug, or a connector raising something unexpected
        logger.exception("sync %s: unexpected error", sync_id)
        return fail_permanent(sync, token, PermanentError(f"Unexpected error: {exc!r}", traceback.format_exc()))


def _deleted_context(sync: Synchronization, exc: ArtifactDeleted) -> dict:
    """Which side of ``sync`` is gone ("both" when both are), for the operator's
    Recreate (from the other side) / Unlink."""
    if isinstance(exc, BothDeleted):
        return {"kind": "deleted", "side": "both", "key": exc.key, "repository": exc.repository}
    side = LEFT if exc.key == sync.left_key else RIGHT
    return {"kind": "deleted", "side": side, "key": exc.key, "repository": exc.repository}


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
    with processing.Tally() as tally:  # outcomes and times, for Prometheus
        for sync_id in sync_ids:
            status = tally.timed(process_sync, sync_id, token)
            ended[status] = ended.get(status, 0) + 1
    return ended


def _remembered(read: Sides, field_map: list[dict]) -> dict:
    """What both sides look like now (keys, URLs, fingerprints, the title), so that
    the next change detection can tell our own writes (same fingerprint) from new edits."""
    changes = {}
    for side in (LEFT, RIGHT):
        artifact = read[side]
        changes[f"{side}_key"] = artifact.key
        changes[f"{side}_url"] = artifact.url
        changes[f"{side}_fingerprint"] = fieldmap.fingerprint(
            artifact.fields, fieldmap.relevant_fields(field_map, side)
        )
        changes[f"{side}_version"] = artifact.version[:200]
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


def fail_transient(sync: Synchronization, token: str, exc: TransientError, *, seen: dict | None = None) -> str:
    """A failure worth trying again: pending with a backoff, up to
    SYNCWEB_MAX_ATTEMPTS attempts; then a permanent failure saying so."""
    now = timezone.now()
    attempts = sync.attempts + 1
    limit = settings.SYNCWEB_MAX_ATTEMPTS
    if attempts >= limit:
        gave_up = PermanentError(wording.gave_up(exc.message, attempts), exc.detail)
        return fail_permanent(sync, token, gave_up, seen=seen)
    health.call_failed(exc, now)
    delay = max(backoff(attempts), timedelta(seconds=exc.retry_after or 0))
    mine = Synchronization.objects.filter(pk=sync.pk).claimed(token)
    if mine.release(now, retry_at=now + delay, failed_attempt=True):
        message = wording.attempt_failed(attempts, limit, exc.message, delay.total_seconds())
        _write_log(sync, [(LogEntry.Level.WARNING, message)], now, detail=exc.detail)
    return SyncStatus.PENDING


def fail_permanent(
    sync: Synchronization,
    token: str,
    exc: SyncError,
    *,
    context: dict | None = None,
    outcome: Outcome | None = None,
    seen: dict[str, str] | None = None,
) -> str:
    """A failure that will repeat until someone changes something: the error queue,
    with ``context`` (what an operator needs to resolve it: the conflicting fields,
    the deleted side) and, when writes were made before the failure (a conflict
    after carrying the other fields), ``outcome``'s changes and log lines saved too.
    ``seen``: the versions planning read, so that change detection sends the sync
    back only on a later edit, not on a re-read of what failed."""
    now = timezone.now()
    changes = outcome.changes if outcome else dict(seen or {})
    with transaction.atomic():
        failed = (
            Synchronization.objects.filter(pk=sync.pk)
            .claimed(token)
            .fail(exc.message, exc.detail, now=now, context=context or {}, **changes)
        )
        if failed:
            _write_log(sync, outcome.messages if outcome else [], now)
            _write_log(sync, [(LogEntry.Level.ERROR, wording.processing_failed(exc.message))], now, detail=exc.detail)
            if outcome and outcome.event:
                rollup.record(mapping_id=sync.mapping_id, kind=outcome.event, sync_id=sync.pk, when=now)
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
