"""Change detection: asks each side of a mapping what changed since its cursor,
creates syncs for new artifacts, and marks changed ones pending."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from synchronizations import jobs
from synchronizations.connectors import Artifact, Connector, connector_for
from synchronizations.engine import fieldmap, health, wording
from synchronizations.engine.errors import DATABASE_FAILED, RepositoryError, SyncError, TransientError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import LogEntry, Mapping, Synchronization, SyncStatus

logger = logging.getLogger(__name__)


# A full rescan reads a side page by page, at most this many pages (of up to
# PAGE_SIZE artifacts each: five million), each page applied in a short transaction.
RESCAN_MAX_PAGES = 10_000
PAGE_SIZE = 500


@dataclass
class Detection:
    created: int = 0
    changed: int = 0
    unchanged: int = 0  # our own writes coming back, or edits of fields we do not sync
    ignored: int = 0
    # In scope, but already one side of a sync of another mapping (or of this one's
    # other side): never taken as new, which would copy it again (issue 14).
    linked_elsewhere: int = 0
    # Sides whose batch was left for the next round: it had unknown artifacts while a
    # create into that repository was in flight (its sync not yet holding the key).
    deferred: int = 0
    rescan: bool = False  # both sides read from the start (Mapping.rescan_requested_at)
    error: str = ""
    ran: bool = True
    # (key, mapping name) of the first artifact linked elsewhere, for the warning.
    elsewhere: tuple[str, str] | None = None

    def __str__(self) -> str:
        if not self.ran:
            return "skipped: another detection is running"
        text = f"{self.created} new, {self.changed} changed, {self.unchanged} unchanged, {self.ignored} ignored"
        if self.linked_elsewhere:
            text += f", {self.linked_elsewhere} linked elsewhere"
        if self.rescan:
            text = f"full rescan: {text}"
        if self.deferred:
            text += f"; {self.deferred} side(s) deferred to the next round (a create into it was in flight)"
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
    marks syncs (see _apply). When a full rescan is asked for
    (``rescan_requested_at`` set when it starts), both sides are read from the start
    instead, page by page to the end; once both are read whole, ``last_full_scan_at``
    is set and the request cleared (unless it was asked again meanwhile). One
    detection per mapping at a time; a repository that refuses our credentials is
    marked unhealthy (the mapping pauses), a tracker that asks us to wait
    (Retry-After) is not asked again before then. Never raises for what a tracker
    does: the failure is the outcome's ``error``, logged."""
    if not claim_mapping(mapping_id):
        return Detection(ran=False)
    started = timezone.now()
    mapping = Mapping.objects.select_related("left", "right").get(pk=mapping_id)
    asked = mapping.rescan_requested_at
    notified = mapping.detection_requested_at
    outcome = Detection(rescan=asked is not None)
    wait = None
    try:
        whole = [_read_side(mapping, side, outcome, from_start=outcome.rescan) for side in (LEFT, RIGHT)]
        health.record_success([mapping.left_id, mapping.right_id])
        if outcome.rescan and all(whole):
            Mapping.objects.filter(pk=mapping_id).update(last_full_scan_at=started)
            # Asked again while it ran: that request stays, for a rescan of its own.
            Mapping.objects.filter(pk=mapping_id, rescan_requested_at=asked).update(rescan_requested_at=None)
    except RepositoryError as exc:
        health.repository_refused(mapping, exc)
        outcome.error = exc.message
    except TransientError as exc:
        health.call_failed(exc, timezone.now())
        outcome.error = exc.message
        wait = exc.retry_after
    except SyncError as exc:
        outcome.error = exc.message
    except DATABASE_FAILED:
        raise  # not the mapping's fault: the next round detects again
    except Exception as exc:  # a bug, or a tracker answering what no connector expects
        logger.exception("change detection of mapping %s failed", mapping_id)
        outcome.error = f"Unexpected error: {exc!r}"[:1000]
    finally:
        now = timezone.now()
        if notified is not None and not outcome.error:
            # Kept when it failed (the next detection it may make reads the change),
            # and when notified again while it ran (that request is for the next round).
            Mapping.objects.filter(pk=mapping_id, detection_requested_at=notified).update(detection_requested_at=None)
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
        if outcome.linked_elsewhere:
            message = wording.linked_elsewhere(*outcome.elsewhere, outcome.linked_elsewhere)
            logger.warning("mapping %s: %s", mapping_id, message)
            LogEntry.objects.create(level=LogEntry.Level.WARNING, mapping=mapping, message=message)
    return outcome


def _read_side(mapping: Mapping, side: str, outcome: Detection, *, from_start: bool) -> bool:
    """Reads one side's changes and applies them, a page at a time, each page with
    its cursor in one short transaction: from the side's cursor one page, or (a
    rescan, ``from_start``) from the start until the cursor stops moving. Returns
    whether the side was read to the end: False when a page was deferred (see
    _apply; the cursor stays where it was) or a rescan ran out of pages."""
    repository = mapping.left if side == LEFT else mapping.right
    scope = mapping.left_scope if side == LEFT else mapping.right_scope
    cursor_field = f"{side}_cursor"
    connector = connector_for(repository)
    cursor = "" if from_start else getattr(mapping, cursor_field)
    for _ in range(RESCAN_MAX_PAGES if from_start else 1):
        changes = connector.changed_since(scope, cursor, PAGE_SIZE)
        with transaction.atomic():
            if not _apply(mapping, side, changes.artifacts, outcome, connector):
                outcome.deferred += 1
                return False
            # The claim is renewed with each page, so that a long rescan keeps it.
            Mapping.objects.filter(pk=mapping.pk).update(
                **{cursor_field: changes.cursor}, detection_claimed_at=timezone.now()
            )
        if not changes.artifacts or changes.cursor == cursor:
            return True
        cursor = changes.cursor
    if from_start:
        logger.warning(
            "mapping %s: the rescan of its %s side stopped after %s pages", mapping.pk, side, RESCAN_MAX_PAGES
        )
    return not from_start


def _apply(mapping: Mapping, side: str, artifacts: list[Artifact], outcome: Detection, connector: Connector) -> bool:
    """Applies one batch of ``side``'s changed artifacts: a new sync for each
    artifact no sync holds, changed ones marked (see below), the version each was
    seen at recorded. An artifact that is one side of a sync of another mapping (or
    of this mapping's other side) on the same repository is skipped, counted as
    linked elsewhere. Returns False, applying nothing, when the batch has artifacts
    no sync holds while a sync with a side on this repository is being processed
    with that side still empty: its create may have returned before its key is
    saved, and the new artifact may be that one (the echo race; the batch is read
    again next round). Queries: one to read the syncs, then only writes."""
    if not artifacts:
        return True
    repository_id = mapping.left_id if side == LEFT else mapping.right_id
    key_field, version_field = f"{side}_key", f"{side}_version"
    keys = {artifact.key for artifact in artifacts}
    existing: dict[str, Synchronization] = {}
    elsewhere: dict[str, Synchronization] = {}
    in_flight = False
    for sync in Synchronization.objects.linking(repository_id, sorted(keys)):
        for sync_side in (LEFT, RIGHT):
            if getattr(sync.mapping, f"{sync_side}_id") != repository_id:
                continue
            key = getattr(sync, f"{sync_side}_key")
            if not key:
                in_flight = in_flight or sync.status == SyncStatus.PROCESSING
            elif key in keys and sync.mapping_id == mapping.pk and sync_side == side:
                existing[key] = sync
            elif key in keys:
                elsewhere.setdefault(key, sync)
    if in_flight and any(key not in existing and key not in elsewhere for key in keys):
        return False

    names = fieldmap.relevant_fields(mapping.field_map, side)
    new, to_mark, to_recheck, logs = [], [], [], []
    seen_key: dict[int, str] = {}  # sync id -> the key of its changed artifact
    versions: dict[int, str] = {}  # sync id -> the version its artifact was seen at
    for artifact in artifacts:
        sync = existing.get(artifact.key)
        if sync is None and artifact.key in elsewhere:
            outcome.linked_elsewhere += 1
            outcome.elsewhere = outcome.elsewhere or (artifact.key, elsewhere[artifact.key].mapping.name)
            continue
        if sync is None:
            new.append(
                Synchronization(
                    mapping=mapping,
                    status=SyncStatus.PENDING,
                    title=str(artifact.fields.get("title") or "")[:500],
                    **{key_field: artifact.key, f"{side}_url": artifact.url, version_field: artifact.version},
                )
            )
            existing[artifact.key] = new[-1]  # the same artifact twice in one batch
            continue
        edited = not connector.same_version(getattr(sync, version_field), artifact.version)
        if sync.pk is not None and edited and sync.status != SyncStatus.PROCESSING:
            # Not while processing: if that fails, the edit it may not have read must
            # still count as one when the artifact is read next.
            versions[sync.pk] = artifact.version
        if sync.status == SyncStatus.IGNORED or sync.ignore_changes:
            outcome.ignored += 1
        elif sync.status == SyncStatus.ERROR:
            # Any edit since it was last seen, even of a field we do not sync, may have
            # undone the cause: process it again. Read again unchanged (a rescan, the
            # connector's overlap), it stays in the error queue.
            if edited:
                to_mark.append(sync.pk)
                seen_key[sync.pk] = artifact.key
                outcome.changed += 1
            else:
                outcome.unchanged += 1
        elif fieldmap.fingerprint(artifact.fields, names) == getattr(sync, f"{side}_fingerprint"):
            outcome.unchanged += 1  # our own write coming back, or an edit of fields we do not sync
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
    Synchronization.objects.record_versions(side, versions)
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
    flagged = set(Synchronization.objects.filter(pk__in=to_recheck).flag_recheck()) if to_recheck else set()
    to_mark += [pk for pk in to_recheck if pk not in flagged]
    # OK or in error: process again (an error may be fixed by the edit).
    marked = set(Synchronization.objects.filter(pk__in=to_mark).mark_changed(now)) if to_mark else set()
    logs += [
        LogEntry(sync_id=pk, mapping=mapping, message=wording.change_detected(seen_key[pk])) for pk in sorted(marked)
    ]
    LogEntry.objects.bulk_create(logs, batch_size=1000)
    jobs.queue_processing([sync.pk for sync in new] + sorted(marked))
    return True


def mappings_due() -> list[int]:
    """Enabled mappings between enabled, healthy repositories whose interval has
    passed since their last detection, for which a full rescan is asked
    (``rescan_requested_at``), or of which a tracker told a change
    (``detection_requested_at``, a webhook), and not within a wait a tracker asked for."""
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
    rows = mappings.values_list(
        "pk", "last_detection_at", "detection_interval", "rescan_requested_at", "detection_requested_at"
    )
    return [
        mapping_id
        for mapping_id, last, interval, rescan, notified in rows
        if last is None or last + timedelta(seconds=interval) <= now or rescan is not None or notified is not None
    ]


def full_scans_due(now: datetime | None = None) -> list[int]:
    """Enabled mappings whose periodic full rescan is due at ``now`` (default: the
    current time): ``full_scan_hours`` > 0 and no full scan within that many hours
    (or none yet), and none asked for already. The beat task asks for them (sets
    ``rescan_requested_at`` and queues their detection); detect_changes() does the
    rescan and sets ``last_full_scan_at``. One query."""
    now = now or timezone.now()
    rows = Mapping.objects.filter(enabled=True, full_scan_hours__gt=0, rescan_requested_at__isnull=True).values_list(
        "pk", "full_scan_hours", "last_full_scan_at"
    )
    return [mapping_id for mapping_id, hours, last in rows if last is None or last + timedelta(hours=hours) <= now]
