"""Retry, Clear Errors and Clear Errors and Ignore Changes: the one place where
operator actions change syncs (DESIGN.md section 3). The web UI, the admin and the
management commands all call these, so an action behaves the same wherever it
starts, and each records an Operation and log entries naming the user."""

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from synchronizations.engine.process import queue_on_commit
from synchronizations.models import LogEntry, Operation, Synchronization, SyncStatus

CHUNK = 1000


class ActionRefused(Exception):
    """The action breaks a rule; nothing was changed."""


@dataclass
class Applied:
    done: int = 0
    skipped: int = 0  # e.g. Retry of a sync a worker is processing right now


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _log(ids: list[int], message: str, actor: str, operation: Operation | None) -> None:
    now = timezone.now()
    mappings = dict(Synchronization.objects.filter(pk__in=ids).values_list("pk", "mapping_id"))
    LogEntry.objects.bulk_create(
        [
            LogEntry(
                timestamp=now,
                message=message,
                actor=actor,
                sync_id=pk,
                mapping_id=mappings.get(pk),
                operation=operation,
            )
            for pk in ids
        ],
        batch_size=CHUNK,
    )


def retry(ids: list[int], *, actor: str, operation: Operation | None = None) -> Applied:
    """Any status but processing -> pending, queued now. Retry count and error
    fields stay for history; an ignored sync stops ignoring changes."""
    applied = Applied()
    for chunk in _chunks(sorted(set(ids))):
        with transaction.atomic():
            eligible = list(
                Synchronization.objects.filter(pk__in=chunk)
                .exclude(status=SyncStatus.PROCESSING)
                .values_list("pk", flat=True)
            )
            Synchronization.objects.filter(pk__in=eligible).exclude(status=SyncStatus.PROCESSING).update(
                status=SyncStatus.PENDING,
                ignore_changes=False,
                next_retry_at=None,
                attempts=0,
                retry_count=F("retry_count") + 1,
                updated_at=timezone.now(),
            )
            _log(eligible, f"Retry requested by {actor}.", actor, operation)
            queue_on_commit(eligible)
        applied.done += len(eligible)
        applied.skipped += len(chunk) - len(eligible)
    return applied


def not_in_error(ids: list[int]) -> list[int]:
    """The ids among ``ids`` of syncs that are not in error, or do not exist."""
    offending = []
    for chunk in _chunks(sorted(set(ids))):
        statuses = dict(Synchronization.objects.filter(pk__in=chunk).values_list("pk", "status"))
        offending += [pk for pk in chunk if statuses.get(pk) != SyncStatus.ERROR]
    return offending


def refuse_unless_all_in_error(ids: list[int]) -> None:
    """The rule of the two clear actions: every selected sync must be in error."""
    offending = not_in_error(ids)
    if offending:
        shown = ", ".join(map(str, offending[:10])) + (" …" if len(offending) > 10 else "")
        raise ActionRefused(
            f"{len(offending)} of the selected syncs are not in error (ids {shown}); "
            "the clear actions apply only to syncs in error. Nothing was changed."
        )


def clear_errors(
    ids: list[int], *, actor: str, ignore_changes: bool = False, operation: Operation | None = None
) -> Applied:
    """Only syncs in error: error fields cleared, status ok (or ignored, with
    ``ignore_changes``), nothing processed. Refused whole if any is not in error."""
    refuse_unless_all_in_error(ids)
    status = SyncStatus.IGNORED if ignore_changes else SyncStatus.OK
    message = f"Error cleared by {actor}" + ("; new changes are ignored." if ignore_changes else ".")
    applied = Applied()
    for chunk in _chunks(sorted(set(ids))):
        with transaction.atomic():
            cleared = list(
                Synchronization.objects.filter(pk__in=chunk, status=SyncStatus.ERROR).values_list("pk", flat=True)
            )
            Synchronization.objects.filter(pk__in=cleared, status=SyncStatus.ERROR).update(
                status=status,
                ignore_changes=ignore_changes,
                error_message="",
                error_detail="",
                error_at=None,
                next_retry_at=None,
                attempts=0,
                updated_at=timezone.now(),
            )
            _log(cleared, message, actor, operation)
        applied.done += len(cleared)
        applied.skipped += len(chunk) - len(cleared)
    return applied


def perform(action: str, ids: list[int], *, user=None, source: str = Operation.Source.WEB) -> Operation:
    """Runs ``action`` on the syncs ``ids`` now and records it as an Operation.
    Raises ActionRefused (and records nothing) when the action breaks a rule."""
    actor = user.get_username() if user is not None else "system"
    if action not in Operation.Action.values:
        raise ActionRefused(f"Unknown action {action!r}.")
    if action != Operation.Action.RETRY:
        refuse_unless_all_in_error(ids)
    operation = Operation.objects.create(
        action=action,
        source=source,
        requested_by=user,
        sync_ids=sorted(set(ids)),
        total=len(set(ids)),
        state=Operation.State.RUNNING,
    )
    if action == Operation.Action.RETRY:
        applied = retry(ids, actor=actor, operation=operation)
    else:
        ignore = action == Operation.Action.CLEAR_IGNORE
        applied = clear_errors(ids, actor=actor, ignore_changes=ignore, operation=operation)
    operation.done, operation.failed = applied.done, applied.skipped
    operation.state, operation.finished_at = Operation.State.FINISHED, timezone.now()
    operation.save(update_fields=["done", "failed", "state", "finished_at"])
    return operation
