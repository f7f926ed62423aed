"""Change detection: asks each side of a mapping what changed since its cursor,
creates syncs for new artifacts, and marks changed ones pending."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from synchronizations import jobs
from synchronizations.connectors import Artifact, connector_for
from synchronizations.engine import fieldmap, health, wording
from synchronizations.engine.errors import RepositoryError, SyncError, TransientError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import LogEntry, Mapping, Synchronization, SyncStatus

logger = logging.getLogger(__name__)


@dataclass
class Detection:
    created: int = 0
    changed: int = 0
    unchanged: int = 0  # our own writes coming back, or edits of fields we do not sync
    ignored: int = 0
    error: str = ""
    ran: bool = True

    def __str__(self) -> str:
        if not self.ran:
            return "skipped: another detection is running"
        text = f"{self.created} new, {self.changed} changed, {self.unchanged} unchanged, {self.ignored} ignored"
        return f"{text}; failed: {self.error}" if self.error else text


def claim_mapping(mapping_id: int) -> bool:
    """Only one detection per mapping at a time; a claim older than the processing
    timeout belonged to a dead worker and may be taken over."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.SYNCWEB_PROCESSING_TIMEOUT)
    free = Q(detection_claimed_at__isnull=True) | Q(detection_claimed_at__lt=stale)
    return bool(Mapping.objects.filter(free, pk=mapping_id).update(detection_claimed_at=now))


def detect_changes(mapping_id: int) -> Detection:
    """Asks both sides of the mapping what changed since its cursors, and creates or
    marks syncs (see _apply). One detection per mapping at a time; a repository that
    refuses our credentials is marked unhealthy (the mapping pauses), a tracker that
    asks us to wait (Retry-After) is not asked again before then. Never raises for
    what a tracker does: the failure is the outcome's ``error``, logged."""
    if not claim_mapping(mapping_id):
        return Detection(ran=False)
    mapping = Mapping.objects.select_related("left", "right").get(pk=mapping_id)
    outcome = Detection()
    wait = None
    try:
        for side in (LEFT, RIGHT):
            repository = mapping.left if side == LEFT else mapping.right
            scope = mapping.left_scope if side == LEFT else mapping.right_scope
            cursor_field = f"{side}_cursor"
            changes = connector_for(repository).changed_since(scope, getattr(mapping, cursor_field))
            with transaction.atomic():
                _apply(mapping, side, changes.artifacts, outcome)
                Mapping.objects.filter(pk=mapping.pk).update(**{cursor_field: changes.cursor})
        health.record_success([mapping.left_id, mapping.right_id])
    except RepositoryError as exc:
        health.repository_refused(mapping, exc)
        outcome.error = exc.message
    except TransientError as exc:
        health.call_failed(exc, timezone.now())
        outcome.error = exc.message
        wait = exc.retry_after
    except SyncError as exc:
        outcome.error = exc.message
    except Exception as exc:  # a bug, or a tracker answering what no connector expects
        logger.exception("change detection of mapping %s failed", mapping_id)
        outcome.error = f"Unexpected error: {exc!r}"[:1000]
    finally:
        now = timezone.now()
        Mapping.objects.filter(pk=mapping_id).update(
            detection_claimed_at=None,
            last_detection_at=now,
            last_detection_error=outcome.error,
            detection_after=now + timedelta(seconds=wait) if wait else None,
        )
        if outcome.error:
            LogEntry.objects.create(
                level=LogEntry.Level.WARNING, mapping=mapping, message=wording.detection_failed(outcome.error)
            )
    return outcome


def _apply(mapping: Mapping, side: str, artifacts: list[Artifact], outcome: Detection) -> None:
    if not artifacts:
        return
    names = fieldmap.relevant_fields(mapping.field_map, side)
    key_field = f"{side}_key"
    existing = {
        getattr(sync, key_field): sync
        for sync in Synchronization.objects.filter(mapping=mapping, **{f"{key_field}__in": [a.key for a in artifacts]})
    }
    new, to_mark, to_recheck, logs = [], [], [], []
    seen_key: dict[int, str] = {}  # sync id -> the key of its changed artifact
    for artifact in artifacts:
        sync = existing.get(artifact.key)
        if sync is None:
            new.append(
                Synchronization(
                    mapping=mapping,
                    status=SyncStatus.PENDING,
                    title=str(artifact.fields.get("title") or "")[:500],
                    **{key_field: artifact.key, f"{side}_url": artifact.url},
                )
            )
            existing[artifact.key] = new[-1]  # the same artifact twice in one batch
        elif sync.status == SyncStatus.IGNORED or sync.ignore_changes:
            outcome.ignored += 1
        elif sync.status != SyncStatus.ERROR and fieldmap.fingerprint(artifact.fields, names) == getattr(
            sync, f"{side}_fingerprint"
        ):
            # Our own write coming back, or an edit of fields we do not sync. (A sync in
            # error is processed again on any edit: the edit may have undone the cause.)
            outcome.unchanged += 1
        elif sync.status == SyncStatus.PROCESSING:
            to_recheck.append(sync.pk)
            seen_key[sync.pk] = artifact.key
            outcome.changed += 1
        elif sync.status == SyncStatus.PENDING:
            outcome.changed += 1  # already waiting; processing reads the latest version
        else:
            to_mark.append(sync.pk)
            seen_key[sync.pk] = artifact.key
            outcome.changed += 1
    now = timezone.now()
    Synchronization.objects.bulk_create(new, batch_size=500)
    for sync in new:
        logs.append(
            LogEntry(
                sync=sync,
                mapping=mapping,
                message=wording.new_artifact(getattr(sync, key_field), mapping.name),
            )
        )
    outcome.created += len(new)
    # Being processed: once more afterwards. One that finished meanwhile is OK (or in
    # error) by now, and is marked changed like the others, so the edit is not lost.
    flagged = set(Synchronization.objects.filter(pk__in=to_recheck).flag_recheck())
    to_mark += [pk for pk in to_recheck if pk not in flagged]
    # OK or in error: process again (an error may be fixed by the edit).
    marked = set(Synchronization.objects.filter(pk__in=to_mark).mark_changed(now))
    logs += [
        LogEntry(sync_id=pk, mapping=mapping, message=wording.change_detected(seen_key[pk])) for pk in sorted(marked)
    ]
    LogEntry.objects.bulk_create(logs, batch_size=1000)
    jobs.queue_processing([sync.pk for sync in new] + sorted(marked))


def mappings_due() -> list[int]:
    """Enabled mappings between enabled, healthy repositories whose interval has
    passed since their last detection (and any wait a tracker asked for)."""
    now = timezone.now()
    mappings = Mapping.objects.filter(
        Q(detection_after__isnull=True) | Q(detection_after__lte=now),
        enabled=True,
        left__enabled=True,
        right__enabled=True,
        left__healthy=True,
        right__healthy=True,
        detection_claimed_at__isnull=True,
    )
    return [
        mapping_id
        for mapping_id, last, interval in mappings.values_list("pk", "last_detection_at", "detection_interval")
        if last is None or last + timedelta(seconds=interval) <= now
    ]
