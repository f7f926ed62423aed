"""Retry, Clear Errors, Clear Errors and Ignore Changes, and Process all artifacts
(of a mapping): the one place where operator actions change syncs (README,
"Operating the error queue"). The web UI, the admin and the management commands
all call these, so an action behaves the same wherever it starts, and each records
an Operation and log entries naming the user.

An action is submitted (its rule checked, its set of syncs fixed, an Operation
recorded) and then run, in chunks, by a worker or at once. The set is fixed when it
is submitted: the ids chosen, or the ids matching the filter then. Running an
operation again (a redelivered job) continues where it stopped and never applies a
chunk twice.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Max, Q, QuerySet
from django.utils import timezone

from synchronizations import jobs
from synchronizations.engine import merge, wording
from synchronizations.engine.errors import DATABASE_FAILED
from synchronizations.models import REPROCESS_LEAVES, LogEntry, Operation, Synchronization, SyncStatus

# Syncs per statement when reading ids. (An operation applies its syncs in chunks
# of SYNCWEB_OPERATION_CHUNK, one transaction each.)
CHUNK = 5000
# Acting on more syncs than this asks for confirmation first (needs_confirmation).
CONFIRM_ABOVE = 100
CLEAR_ACTIONS = {Operation.Action.CLEAR, Operation.Action.CLEAR_IGNORE}
# For syncs whose artifact was deleted in its tracker (error context "deleted").
DELETED_ACTIONS = {Operation.Action.RECREATE, Operation.Action.UNLINK}
# What the Syncs tab and the sync page offer on chosen syncs (Resolve has its own
# form on the sync page, Process all artifacts its own on the mapping page).
SYNC_ACTIONS = {Operation.Action.RETRY, *CLEAR_ACTIONS, *DELETED_ACTIONS}


class ActionRefused(Exception):
    """The action breaks a rule; nothing was changed."""


@dataclass
class Selection:
    """The syncs an action is for, fixed when it is submitted."""

    ids: list[int]
    unknown: list[int] = field(default_factory=list)  # asked for, but no such sync
    filters: dict | None = None  # how "all matching" was chosen
    max_id: int | None = None

    @property
    def digest(self) -> str:
        """A fingerprint of the ids (hex SHA-256): the confirmation page carries it, so
        that the set acted on is the set the operator confirmed."""
        return hashlib.sha256(",".join(map(str, self.ids)).encode()).hexdigest()


@dataclass
class Applied:
    done: int = 0
    skipped: int = 0  # e.g. Retry of a sync a worker is processing right now


def _chunks(ids: list[int], start: int = 0, size: int | None = None) -> Iterable[list[int]]:
    size = size or CHUNK
    for offset in range(start, len(ids), size):
        yield ids[offset : offset + size]


def select_ids(ids: Iterable[int]) -> Selection:
    wanted = sorted(set(ids))
    found: set[int] = set()
    for chunk in _chunks(wanted):
        found.update(Synchronization.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    return Selection(ids=[pk for pk in wanted if pk in found], unknown=[pk for pk in wanted if pk not in found])


def select_matching(queryset: QuerySet, filters: dict, max_id: int | None = None) -> Selection:
    """Every sync ``queryset`` matches now, bounded by the highest id now (or by
    ``max_id``, the bound of a selection being confirmed)."""
    if max_id is None:
        max_id = Synchronization.objects.aggregate(top=Max("pk"))["top"] or 0
    # 100,000 ids: read straight from the cursor, without a queryset's per-row work,
    # in the order of whichever index serves the filter, and sorted here.
    sql, params = queryset.filter(pk__lte=max_id).order_by().values_list("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        ids = sorted(row[0] for row in cursor.fetchall())
    return Selection(ids=ids, filters=filters, max_id=max_id)


def select_for_reprocess(mapping_ids: Iterable[int], max_id: int | None = None) -> Selection:
    """The syncs "Process all artifacts" acts on: every sync of the mappings
    ``mapping_ids`` but those being processed or ignored (REPROCESS_LEAVES), bounded
    by the highest sync id now (or by ``max_id``, the bound of a selection being
    confirmed)."""
    ids = sorted(set(mapping_ids))
    queryset = Synchronization.objects.filter(mapping__in=ids).exclude(status__in=REPROCESS_LEAVES)
    filters = {"mapping": ids[0] if len(ids) == 1 else ids, "status": "any but processing and ignored"}
    return select_matching(queryset, filters, max_id=max_id)


def not_in_error(ids: list[int], **context) -> list[int]:
    """The ids among ``ids`` of syncs that are not in error (or, with ``context``,
    not in error with that error context, e.g. ``kind="deleted"``)."""
    offending = []
    wanted = {f"error_context__{name}": value for name, value in context.items()}
    for chunk in _chunks(sorted(set(ids))):
        matching = Synchronization.objects.filter(pk__in=chunk, status=SyncStatus.ERROR, **wanted)
        found = set(matching.values_list("pk", flat=True))
        offending += [pk for pk in chunk if pk not in found]
    return sorted(offending)


def nothing_to_recreate_from(ids: list[int]) -> list[int]:
    """The ids among ``ids`` of syncs with a deleted artifact whose other artifact
    is gone too (or was never linked): Recreate has nothing to copy from."""
    offending = []
    for chunk in _chunks(sorted(set(ids))):
        deleted = Synchronization.objects.filter(pk__in=chunk, error_context__kind="deleted")
        offending += deleted.filter(
            Q(error_context__side="both")
            | Q(error_context__side="left", right_key="")
            | Q(error_context__side="right", left_key="")
        ).values_list("pk", flat=True)
    return sorted(offending)


def needs_confirmation(selection: Selection, *, all_matching: bool) -> bool:
    """Whether to ask before acting: on more than CONFIRM_ABOVE syncs, or on "every
    sync matching" the filters of a page, whose set the operator has not seen row by
    row (django-rq's confirm_action). The web UI and the commands both ask this."""
    return all_matching or len(selection.ids) > CONFIRM_ABOVE


def check(action: str, selection: Selection, parameters: dict | None = None) -> None:
    """Refuses an action that breaks a rule, saying why: the clear actions apply to
    syncs in error only, Recreate and Unlink to syncs whose artifact was deleted,
    Resolve to syncs in conflict and needs a side ("left" or "right") per rule
    number of the conflict, or for all ("*")."""
    if action not in Operation.Action.values:
        raise ActionRefused(f"Unknown action {action!r}.")
    if not selection.ids:
        raise ActionRefused("No existing sync is selected." if selection.unknown else "No sync is selected.")
    if action in CLEAR_ACTIONS:
        _refuse_others(not_in_error(selection.ids), "not in error", "the clear actions apply only to syncs in error")
    if action in DELETED_ACTIONS:
        _refuse_others(
            not_in_error(selection.ids, kind="deleted"),
            "not in error because of a deleted artifact",
            f"{Operation.Action(action).label} applies only to syncs whose artifact was deleted",
        )
    if action == Operation.Action.RECREATE:
        _refuse_others(
            nothing_to_recreate_from(selection.ids),
            "without an artifact to recreate from (both are gone)",
            "Unlink or Clear Error keeps such a sync in history",
        )
    if action == Operation.Action.RESOLVE:
        _refuse_others(
            not_in_error(selection.ids, kind="conflict"),
            "not in conflict",
            "Resolve applies only to syncs whose fields conflict",
        )
        _check_choices((parameters or {}).get("choices"))


def _refuse_others(offending: list[int], state: str, rule: str) -> None:
    if offending:
        shown = ", ".join(map(str, offending[:10])) + (" …" if len(offending) > 10 else "")
        raise ActionRefused(
            f"{len(offending)} of the selected syncs {'is' if len(offending) == 1 else 'are'} {state} "
            f"(ids {shown}); {rule}. Nothing was changed."
        )


def _check_choices(choices) -> None:
    """Resolve's choices: {rule key ("left field|right field", merge.rule_key()) or
    "*": "left" | "right"}."""
    if not isinstance(choices, dict) or not choices:
        raise ActionRefused("Choose a side for each conflicting field. Nothing was changed.")
    for rule, side in choices.items():
        if side not in ("left", "right") or not (rule == "*" or (isinstance(rule, str) and "|" in rule)):
            raise ActionRefused(f"{rule!r}: {side!r} is not a side (left or right) of a rule. Nothing was changed.")


def submit(
    action: str,
    selection: Selection,
    *,
    user=None,
    source: str = Operation.Source.WEB,
    run_now: bool = False,
    parameters: dict | None = None,
):
    """Checks the rule, records the Operation (with ``parameters``, e.g. Resolve's
    choices), and queues it (after commit) or, with ``run_now``, runs it here.
    Raises ActionRefused, recording nothing, on a broken rule."""
    check(action, selection, parameters)
    operation = Operation.objects.create(
        action=action,
        parameters=parameters or {},
        source=source,
        requested_by=user if user is not None and user.is_authenticated else None,
        sync_ids=selection.ids,
        unknown_ids=selection.unknown,
        filter_params=selection.filters,
        max_sync_id=selection.max_id,
        total=len(selection.ids),
    )
    if run_now:
        return run(operation.pk)
    dispatch(operation.pk)
    operation.refresh_from_db(fields=["dispatched_at"])
    return operation


def dispatch(operation_id: int) -> None:
    """Hands the operation's job to the broker after commit, recording when it did.
    A broker that is down leaves ``dispatched_at`` as it was: redispatch_stalled()
    tries again."""

    def sent() -> None:
        Operation.objects.filter(pk=operation_id).update(dispatched_at=timezone.now())

    jobs.queue_operation(operation_id, on_sent=sent)


def redispatch_stalled(stall: timedelta | None = None) -> list[int]:
    """Dispatches again the queued or running operations whose job was lost (never
    sent, or no dispatch nor progress for ``stall``, default SYNCWEB_OPERATION_STALL
    seconds). Safe to repeat: a run continues after the last chunk it committed and
    never applies one twice. Returns the ids dispatched."""
    stall = stall if stall is not None else timedelta(seconds=settings.SYNCWEB_OPERATION_STALL)
    ids = list(Operation.objects.stalled(timezone.now(), stall).values_list("pk", flat=True))
    for operation_id in ids:
        dispatch(operation_id)
    return ids


def run(operation_id: int) -> Operation:
    """Applies the operation chunk by chunk; each chunk and the progress it makes
    commit together, so a second run continues after the last committed chunk."""
    startable = [Operation.State.QUEUED, Operation.State.RUNNING]
    Operation.objects.filter(pk=operation_id, state__in=startable).update(state=Operation.State.RUNNING)
    operation = Operation.objects.select_related("requested_by").get(pk=operation_id)
    if operation.state != Operation.State.RUNNING:
        return operation  # finished or failed already: nothing more to do
    actor = operation.requested_by.get_username() if operation.requested_by else operation.get_source_display()
    position = operation.done + operation.skipped
    try:
        for chunk in _chunks(operation.sync_ids or [], position, settings.SYNCWEB_OPERATION_CHUNK):
            with transaction.atomic():
                current = Operation.objects.select_for_update().only("done", "skipped").get(pk=operation_id)
                if current.done + current.skipped != position:
                    return current  # another run of the same operation got ahead: leave it to that one
                applied = _apply(operation, chunk, actor)
                Operation.objects.filter(pk=operation_id).update(
                    done=F("done") + applied.done, skipped=F("skipped") + applied.skipped, progress_at=timezone.now()
                )
            position += len(chunk)
    except DATABASE_FAILED:
        # Our database failed, not the operation: it stays running, and continues
        # after its last committed chunk when redispatch_stalled() dispatches it again.
        raise
    except Exception as exc:
        Operation.objects.filter(pk=operation_id).update(
            state=Operation.State.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        raise
    Operation.objects.filter(pk=operation_id, state=Operation.State.RUNNING).update(
        state=Operation.State.FINISHED, finished_at=timezone.now()
    )
    operation.refresh_from_db()
    return operation


def perform(
    action: str, ids: Iterable[int], *, user=None, source: str = Operation.Source.WEB, parameters: dict | None = None
) -> Operation:
    """Submits and runs ``action`` on the syncs ``ids`` at once (scripts, tests)."""
    return submit(action, select_ids(ids), user=user, source=source, run_now=True, parameters=parameters)


def _apply(operation: Operation, ids: list[int], actor: str) -> Applied:
    action = operation.action
    if action == Operation.Action.RETRY:
        return apply_retry(ids, actor=actor, operation=operation)
    if action == Operation.Action.REPROCESS:
        return apply_reprocess(ids, actor=actor, operation=operation)
    if action == Operation.Action.RESOLVE:
        return apply_resolve(ids, operation.parameters.get("choices") or {}, actor=actor, operation=operation)
    if action in DELETED_ACTIONS:
        return apply_deleted(ids, action, actor=actor, operation=operation)
    return apply_clear(ids, actor=actor, ignore_changes=action == Operation.Action.CLEAR_IGNORE, operation=operation)


def apply_resolve(ids: list[int], choices: dict, *, actor: str, operation: Operation | None = None) -> Applied:
    """Syncs in conflict -> pending with the operator's side per field
    (SynchronizationQuerySet.resolve), logged and queued after commit: processing
    writes the chosen values. Call it inside a transaction."""
    resolved = Synchronization.objects.filter(pk__in=ids).resolve(timezone.now(), choices)
    said = ", ".join(
        f"{'every field' if rule == '*' else merge.describe_key(rule)}: {side}" for rule, side in choices.items()
    )
    _log(resolved, wording.conflict_resolved(actor, said), actor, operation)
    jobs.queue_processing(resolved)
    return Applied(done=len(resolved), skipped=len(ids) - len(resolved))


def apply_deleted(ids: list[int], action: str, *, actor: str, operation: Operation | None = None) -> Applied:
    """Syncs whose artifact was deleted: Recreate (pending, the deleted side to be
    created again from the other, queued after commit) or Unlink (ignored, the
    remaining artifact no longer synced), each logged naming the deleted artifact.
    Nothing is ever deleted in a tracker. Call it inside a transaction."""
    syncs = Synchronization.objects.filter(pk__in=ids, status=SyncStatus.ERROR, error_context__kind="deleted")
    gone = {pk: context for pk, context in syncs.values_list("pk", "error_context")}
    now = timezone.now()
    chosen = Synchronization.objects.filter(pk__in=list(gone))
    changed = chosen.recreate(now) if action == Operation.Action.RECREATE else chosen.unlink(now)
    say = wording.recreate_requested if action == Operation.Action.RECREATE else wording.unlinked
    for pk in changed:
        LogEntry.objects.add_for_syncs(
            [pk],
            say(actor, gone[pk].get("key", "?"), gone[pk].get("repository", "?")),
            actor=actor,
            operation_id=operation.pk if operation else None,
        )
    if action == Operation.Action.RECREATE:
        jobs.queue_processing(changed)
    return Applied(done=len(changed), skipped=len(ids) - len(changed))


def apply_retry(ids: list[int], *, actor: str, operation: Operation | None = None) -> Applied:
    """Any status but processing -> pending (SynchronizationQuerySet.retry), logged
    and queued after commit. Call it inside a transaction."""
    retried = Synchronization.objects.filter(pk__in=ids).retry(timezone.now())
    _log(retried, wording.retry_requested(actor), actor, operation)
    jobs.queue_processing(retried)
    return Applied(done=len(retried), skipped=len(ids) - len(retried))


def apply_reprocess(ids: list[int], *, actor: str, operation: Operation | None = None) -> Applied:
    """Any status but processing and ignored -> pending
    (SynchronizationQuerySet.reprocess: not counted as a retry), logged and queued
    after commit; the others skipped. Call it inside a transaction."""
    pending = Synchronization.objects.filter(pk__in=ids).reprocess(timezone.now())
    _log(pending, wording.reprocess_requested(actor), actor, operation)
    jobs.queue_processing(pending)
    return Applied(done=len(pending), skipped=len(ids) - len(pending))


def apply_clear(
    ids: list[int], *, actor: str, ignore_changes: bool = False, operation: Operation | None = None
) -> Applied:
    """Syncs still in error -> ok, or ignored with ``ignore_changes``
    (SynchronizationQuerySet.clear), logged; nothing processed; others skipped.
    Call it inside a transaction."""
    cleared = Synchronization.objects.filter(pk__in=ids).clear(timezone.now(), ignore_changes=ignore_changes)
    _log(cleared, wording.error_cleared(actor, ignore_changes=ignore_changes), actor, operation)
    return Applied(done=len(cleared), skipped=len(ids) - len(cleared))


def _log(ids: list[int], message: str, actor: str, operation: Operation | None) -> None:
    LogEntry.objects.add_for_syncs(ids, message, actor=actor, operation_id=operation.pk if operation else None)
