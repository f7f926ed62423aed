"""Processing one sync: claim it, read both sides, decide what to carry over (a
plan), apply the plan, record what happened. Transient failures come back with a
backoff; permanent ones go to the error queue at once.

Every change of a sync's state is a SynchronizationQuerySet method (models.py);
queueing goes through synchronizations.jobs. Nothing here imports Celery tasks."""

import logging
import random
import secrets
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Subquery
from django.utils import timezone

from metrics import processing, rollup
from metrics.models import EventKind
from synchronizations import jobs
from synchronizations.connectors import Artifact, Connector, connector_for
from synchronizations.engine import fieldmap, health, merge, wording
from synchronizations.engine.errors import (
    DATABASE_FAILED,
    ArtifactDeleted,
    BothDeleted,
    PartlyCreated,
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


def plan(
    sync: Synchronization,
    connectors: dict[str, Connector],
    seen: dict[str, str] | None = None,
    prefetched: dict[str, dict] | None = None,
) -> Plan:
    """Reads both sides of ``sync`` and decides, field by field, what to write where
    (engine/merge.py). Reads only; ``prefetched`` ({side: {key: Artifact or the
    error reading it}}, from Connector.get_many) spares a call per side, and
    ``seen`` (if given) receives the version of each side as read,
    {"left_version": ...}, even when planning then fails. Raises the connectors'
    errors (ArtifactDeleted for a side that is gone), PermanentError when neither
    side exists, merge.MissingField and UnmappableValue."""
    keys = {LEFT: sync.left_key, RIGHT: sync.right_key}
    if not keys[LEFT] and not keys[RIGHT]:
        raise PermanentError("The sync has no artifact on either side.")
    read: Sides = {}
    gone: dict[str, ArtifactDeleted] = {}
    for side in (LEFT, RIGHT):
        try:
            got = (prefetched or {}).get(side, {}).get(keys[side]) if keys[side] else None
            if keys[side] and got is None:
                got = connectors[side].get(keys[side])
            if isinstance(got, BaseException):
                raise got
        except ArtifactDeleted as exc:
            gone[side], got = exc, None
        read[side] = got
        if got is not None and seen is not None:
            seen[f"{side}_version"] = got.version[:200]
    if len(gone) == 2:
        raise BothDeleted(gone[LEFT], gone[RIGHT])
    if gone:
        raise next(iter(gone.values()))
    merged = merge.merge(read, merge_context(sync))
    writes = {side: fields for side, fields in merged.writes.items() if fields or read[side] is None}
    if not writes and not merged.conflicts and not merged.messages:
        return Plan(read, {}, ((LogEntry.Level.INFO, wording.nothing_to_carry()),))
    return Plan(read, writes, tuple(merged.messages), tuple(merged.conflicts))


@dataclass
class _Applying:
    """One sync's plan being carried out: the artifacts as they are now, the log
    lines, the event, and the error that stopped it (if one did)."""

    sync: Synchronization
    plan: Plan
    seen: dict
    after: dict
    messages: list
    event: str | None = None
    error: BaseException | None = None


def apply(planned: list[tuple[Synchronization, Plan, dict]], connectors: dict[str, Connector], token: str) -> dict:
    """Carries out the plans of several syncs of one mapping, side by side, with
    the connectors' *_many calls: the creates of a side together (their keys
    recorded at once, in one short commit, so that change detection knows the new
    artifacts before the syncs finish), then its updates. Returns {sync id:
    Outcome, or the error that stopped it (a connector's error; ClaimLost when the
    sync was taken over before its created key could be recorded)}. A sync whose
    write on one side failed writes nothing on the other."""
    if not planned:
        return {}
    mapping: Mapping = planned[0][0].mapping
    repository = {LEFT: mapping.left, RIGHT: mapping.right}
    work = [
        _Applying(sync, decided, seen, dict(decided.read), list(decided.messages)) for sync, decided, seen in planned
    ]
    for side in (LEFT, RIGHT):
        source = merge.other(side)
        creates = [
            item for item in work if item.error is None and side in item.plan.writes and item.after[side] is None
        ]
        updates = [item for item in work if item.error is None and side in item.plan.writes and item.after[side]]
        if creates:
            scope = mapping.right_scope if side == RIGHT else mapping.left_scope
            fields = [item.plan.writes[side] for item in creates]
            made = _each_or_error(connectors[side].create_many, scope, fields, count=len(creates))
            done = {
                item.sync.pk: result.artifact if isinstance(result, PartlyCreated) else result
                for item, result in zip(creates, made, strict=True)
                if isinstance(result, Artifact | PartlyCreated)
            }
            # The keys, the "Created" log lines and the created events in one short
            # commit: should the database go away before the syncs finish, what was
            # created in the tracker is linked, said and counted all the same.
            now = timezone.now()
            by_pk = {item.sync.pk: item for item in creates}
            with transaction.atomic():
                recorded = set(
                    Synchronization.objects.filter(pk__in=list(done))
                    .claimed(token)
                    .record_created_many(side, {pk: (a.key, a.url, a.version) for pk, a in done.items()})
                )
                said = []
                for pk in sorted(recorded):
                    item, artifact = by_pk[pk], done[pk]
                    origin = wording.origin(item.plan.read[source].key, repository[source].name)
                    line = (LogEntry.Level.INFO, wording.created(artifact.key, repository[side].name, origin))
                    said += _log_entries(item.sync, [line], now)
                LogEntry.objects.bulk_create(said)
                rollup.record_many([(mapping.pk, EventKind.CREATED, pk) for pk in sorted(recorded)], now)
            for item, result in zip(creates, made, strict=True):
                if not isinstance(result, Artifact | PartlyCreated):
                    item.error = result
                    continue
                artifact = done[item.sync.pk]
                if item.sync.pk not in recorded:
                    logger.warning(
                        "sync %s: claim lost after creating %s; it is not linked", item.sync.pk, artifact.key
                    )
                    item.error = ClaimLost()
                    continue
                item.after[side] = artifact  # its log line and event are saved already
                if isinstance(result, PartlyCreated):
                    result.changes = _partly_created(item, side, result, mapping.field_map)
                    item.error = result
        if updates:
            changes = [(item.after[side].key, item.plan.writes[side], item.after[side].version) for item in updates]
            written = _each_or_error(connectors[side].update_many, changes, count=len(updates))
            for item, result in zip(updates, written, strict=True):
                if not isinstance(result, Artifact):
                    item.error = result
                    continue
                current, fields = item.after[side], item.plan.writes[side]
                changed = [name for name, value in fields.items() if current.fields.get(name) != value]
                origin = wording.origin(item.plan.read[source].key, repository[source].name)
                item.messages.append(
                    (LogEntry.Level.INFO, wording.updated(result.key, repository[side].name, origin, changed))
                )
                item.after[side], item.event = result, item.event or EventKind.UPDATED
    results: dict = {}
    for item in work:
        if item.error is not None:
            results[item.sync.pk] = item.error
            continue
        changes = _remembered(item.after, mapping.field_map)
        changes["synced"] = merge.baseline(
            mapping.field_map, item.after, item.sync.synced or {}, list(item.plan.conflicts)
        )
        results[item.sync.pk] = Outcome(changes, item.messages, item.event)
    return results


def _partly_created(item: "_Applying", side: str, created: PartlyCreated, field_map: list[dict]) -> dict:
    """What to save of a sync whose artifact on ``side`` was created without some
    fields (``created.fields``): the keys, URLs, versions and fingerprints as for a
    success, and a baseline in which both sides agree on every field but those,
    whose source side's entry is left out, so that the next processing sees the
    source's value as changed and writes it again (merge._changed)."""
    changes = _remembered(item.after, field_map)
    synced = merge.baseline(field_map, item.after, item.sync.synced or {}, list(item.plan.conflicts))
    source = merge.other(side)
    for rule in field_map:
        if rule[side] in created.fields:
            synced[source].pop(rule[source], None)
    changes["synced"] = synced
    return changes


def _each_or_error(method, *args, count: int) -> list:
    """``method(*args)``'s list of per-item results, or, when the call failed as a
    whole (unreachable, credentials refused, a bug), that error for each of
    ``count`` items."""
    try:
        return list(method(*args))
    except DATABASE_FAILED:
        raise
    except Exception as exc:  # the whole call failed: each item gets the failure
        return [exc] * count


def _read_many(connector: Connector, keys: list[str]) -> dict:
    """Connector.get_many() of the non-empty ``keys``; when the call fails as a
    whole, that error for each key."""
    keys = [key for key in keys if key]
    if not keys:
        return {}
    try:
        return connector.get_many(keys)
    except DATABASE_FAILED:
        raise
    except Exception as exc:  # the whole call failed: each key gets the failure
        return dict.fromkeys(keys, exc)


def process_sync(sync_id: int, token: str) -> str:
    """Processes one sync if job ``token`` can claim it; returns the status it ended
    in, or "skipped" when it was not pending (or not due yet), its mapping is
    disabled or paused, a repository refused our credentials (the sync waits,
    pending, and the repository is marked unhealthy), or another job took it over."""
    return process_claimed([sync_id], token)[sync_id]


def process_batch(sync_ids: list[int], job_id: str) -> dict[str, int]:
    """Processes the syncs of one delivery of job ``job_id`` together
    (process_claimed); returns how many ended in each status, "skipped" included.

    Each call is one delivery, with a claim token of its own: the job id (cut to
    fit) and a random nonce, at most 64 characters (claimed_by). So a job the broker
    delivers again while its first delivery still runs (a visibility timeout shorter
    than the job) skips the syncs the first one holds, never processing a sync twice
    at once; the syncs of a delivery that died come back through reap_stuck()."""
    token = f"{job_id[:47]}/{secrets.token_hex(8)}"
    ended: dict[str, int] = {}
    began = time.perf_counter()
    try:
        statuses = process_claimed(sync_ids, token)
    except DATABASE_FAILED:
        _abandon(token)
        raise
    # The syncs of a job are processed together: each is counted with its share of
    # the job's time (Prometheus' processing-time histogram).
    share = (time.perf_counter() - began) / max(len(sync_ids), 1)
    seen: set[int] = set()
    with processing.Tally() as tally:
        for sync_id in sync_ids:  # an id given twice: the second time there is nothing to claim
            status = str(statuses[sync_id]) if sync_id not in seen else "skipped"  # plain text, for the result
            seen.add(sync_id)
            tally.add(status, share)
            ended[status] = ended.get(status, 0) + 1
    return ended


def _abandon(token: str) -> None:
    """After our database failed mid-job (errors.DATABASE_FAILED): the syncs job
    ``token`` still holds are handed to the reaper's next round (reap_stuck: back to
    pending, counted as an attempt, bounded), instead of after the whole
    SYNCWEB_PROCESSING_TIMEOUT. When the database does not answer yet, the reaper
    takes them after that timeout all the same."""
    logger.warning("our database failed while job %s processed its syncs; they will be processed again", token)
    if not connection.in_atomic_block:  # (inside a caller's transaction, the caller's to handle)
        connection.close_if_unusable_or_obsolete()  # a broken connection: the next statement opens a new one
    try:
        Synchronization.objects.claimed(token).abandon()
    except DATABASE_FAILED:
        logger.warning("the database does not answer yet; the reaper will put job %s's syncs back", token)


def process_claimed(sync_ids: list[int], token: str) -> dict[int, str]:
    """Processes ``sync_ids`` as job ``token``, set-based: one statement claims them
    all, one reads them, each mapping's connectors read both sides of all its syncs
    at once (get_many) and write them side by side (create_many, update_many), and
    the successes are saved, logged and counted with one statement each. Failures
    take the path of one sync (fail_transient, fail_permanent). Returns {sync id:
    the status it ended in, or "skipped"}, for every id asked for."""
    now = timezone.now()
    ids = list(dict.fromkeys(sync_ids))
    claimed = set(Synchronization.objects.filter(pk__in=ids).claim(token, now))
    ended = {pk: "skipped" for pk in ids if pk not in claimed}
    if claimed:
        syncs = Synchronization.objects.select_related("mapping__left", "mapping__right").filter(pk__in=claimed)
        by_mapping: dict[int, list[Synchronization]] = {}
        for sync in syncs.order_by("pk"):
            by_mapping.setdefault(sync.mapping_id, []).append(sync)
        for group in by_mapping.values():
            ended.update(_process_mapping(group, token, now))
    return {pk: ended[pk] for pk in ids}


def _process_mapping(syncs: list[Synchronization], token: str, now) -> dict[int, str]:
    """process_claimed() for the claimed syncs of one mapping."""
    mapping: Mapping = syncs[0].mapping
    if not mapping.enabled or mapping.paused_reason:
        # A disabled or paused mapping's syncs wait, pending, until it is enabled
        # again (the reaper queues them then) or its repository is healthy again
        # (health.resume queues them then).
        Synchronization.objects.filter(pk__in=[sync.pk for sync in syncs]).claimed(token).release(now)
        return {sync.pk: "skipped" for sync in syncs}
    ended: dict[int, str] = {}
    try:
        connectors = connectors_of(mapping)
    except DATABASE_FAILED:
        raise
    except Exception as exc:  # no connector for the kind, or a bug: each sync fails with it
        return {sync.pk: _failed(sync, token, exc, {}) for sync in syncs}
    prefetched = {
        side: _read_many(connectors[side], [getattr(sync, f"{side}_key") for sync in syncs]) for side in (LEFT, RIGHT)
    }
    planned = []
    for sync in syncs:
        seen: dict[str, str] = {}  # the versions read, kept with an error (detection compares them)
        try:
            planned.append((sync, plan(sync, connectors, seen, prefetched), seen))
        except DATABASE_FAILED:
            raise
        except Exception as exc:
            ended[sync.pk] = _failed(sync, token, exc, seen)
    # The trackers' writes happen outside any database transaction (they cannot be
    # rolled back); created keys are recorded at once, and the rest is saved together
    # with the log once every write of a sync succeeded.
    results = apply(planned, connectors, token)
    succeeded = []
    for sync, decided, seen in planned:
        result = results[sync.pk]
        if not isinstance(result, Outcome):
            ended[sync.pk] = _failed(sync, token, result, seen)
        elif decided.conflicts:
            ended[sync.pk] = _failed(sync, token, Conflicted(result, decided.conflicts), seen)
        else:
            succeeded.append((sync, result))
    if succeeded:
        with transaction.atomic():
            ended.update(finish(succeeded, token))
    return ended


def _failed(sync: Synchronization, token: str, exc: BaseException, seen: dict) -> str:
    """What a failure of one sync leads to, by its kind; returns the status."""
    if isinstance(exc, ClaimLost):
        logger.warning("sync %s: claim lost to another job", sync.pk)
        return "skipped"
    if isinstance(exc, PartlyCreated):
        # The artifact is linked already (apply); what both sides agree on is saved
        # now, and the sync fails as the step that failed decides, keeping the
        # versions just saved (so that detection does not take them for an edit).
        Synchronization.objects.filter(pk=sync.pk).claimed(token).update(**exc.changes)
        versions = {name: value for name, value in exc.changes.items() if name.endswith("_version")}
        return _failed(sync, token, exc.error, {**seen, **versions})
    if isinstance(exc, TransientError):
        return fail_transient(sync, token, exc, seen=seen)
    if isinstance(exc, RepositoryError):
        health.repository_refused(sync.mapping, exc)
        Synchronization.objects.filter(pk=sync.pk).claimed(token).release(timezone.now())
        return "skipped"
    if isinstance(exc, Conflicted):
        return fail_permanent(sync, token, exc, context=exc.context, outcome=exc.outcome)
    if isinstance(exc, ArtifactDeleted):
        return fail_permanent(sync, token, exc, context=_deleted_context(sync, exc), seen=seen)
    if isinstance(exc, SyncError):
        return fail_permanent(sync, token, exc, seen=seen)
    if isinstance(exc, DATABASE_FAILED):
        raise exc  # not the sync's fault (errors.DATABASE_FAILED); process_batch gives the job's syncs back
    # A bug, or a connector raising something unexpected.
    logger.error("sync %s: unexpected error", sync.pk, exc_info=exc)
    detail = "".join(traceback.format_exception(exc))
    return fail_permanent(sync, token, PermanentError(f"Unexpected error: {exc!r}", detail), seen=seen)


def _deleted_context(sync: Synchronization, exc: ArtifactDeleted) -> dict:
    """Which side of ``sync`` is gone ("both" when both are), for the operator's
    Recreate (from the other side) / Unlink."""
    if isinstance(exc, BothDeleted):
        return {"kind": "deleted", "side": "both", "key": exc.key, "repository": exc.repository}
    side = LEFT if exc.key == sync.left_key else RIGHT
    return {"kind": "deleted", "side": side, "key": exc.key, "repository": exc.repository}


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


def finish(succeeded: list[tuple[Synchronization, Outcome]], token: str) -> dict[int, str]:
    """Saves the successes of job ``token`` (inside the caller's transaction): each
    sync ok, or pending and queued again when a change arrived meanwhile; their log
    lines and events. One statement each: finish_many(), one INSERT of log entries,
    rollup.record_many(). Returns {sync id: status}; a sync another job holds now
    is "skipped" and nothing of it is saved."""
    now = timezone.now()
    ended = Synchronization.objects.finish_many(token, now, {sync.pk: outcome.changes for sync, outcome in succeeded})
    statuses, entries, events, again = {}, [], [], []
    for sync, outcome in succeeded:
        status = ended.get(sync.pk)
        if status is None:
            logger.warning("sync %s: claim lost to another job before it finished", sync.pk)
            statuses[sync.pk] = "skipped"
            continue
        statuses[sync.pk] = status
        messages = list(outcome.messages)
        if status == SyncStatus.PENDING:
            messages.append((LogEntry.Level.INFO, wording.changed_while_processing()))
            again.append(sync.pk)
        if outcome.event:
            events.append((sync.mapping_id, outcome.event, sync.pk))
        entries += _log_entries(sync, messages, now)
    LogEntry.objects.bulk_create(entries)
    rollup.record_many(events, now)
    jobs.queue_processing(again)
    return statuses


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
    LogEntry.objects.bulk_create(_log_entries(sync, messages, now, detail))


def _log_entries(sync: Synchronization, messages: list[tuple[str, str]], now: datetime, detail: str = "") -> list:
    return [
        LogEntry(
            timestamp=now, level=level, message=message, detail=detail, sync_id=sync.pk, mapping_id=sync.mapping_id
        )
        for level, message in messages
    ]


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
