"""The made-up past of one demo sync: its artifacts on both sides, their edits, the
sync events, and the log entries the engine and the operators would have written
along the way, every one in the engine's own words (synchronizations.engine.wording).

A past ends in one of the demo's statuses. The sync is built in memory in the state
of its last success (or as a new sync); its last failure, if any, is applied by
seeding with SynchronizationQuerySet.fail(), as the engine applies it;
a status reached by a later state change (cleared and ignored, edited again and
pending, claimed by a worker) is reached afterwards by the queryset methods the
engine and the operations use (see seeding.DemoBuilder)."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from metrics.models import EventKind, SyncEvent
from synchronizations.demo.fixtures import FIELD_MAP, LEFT_STATUSES, PEOPLE, UNMAPPED, left_fields
from synchronizations.engine import fieldmap, wording
from synchronizations.engine.errors import PermanentError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import LogEntry, Mapping, SandboxArtifact, Synchronization, SyncStatus

# Who cleared the demo's ignored errors (the account first_start creates).
OPERATOR = "admin"


def _weight(moment: datetime) -> float:
    """Busier on weekdays and in office hours, as real traffic is."""
    local = timezone.localtime(moment)
    weekday = 1.0 if local.weekday() < 5 else 0.25
    hour = 1.0 if 8 <= local.hour < 18 else (0.35 if 6 <= local.hour < 22 else 0.08)
    return weekday * hour


def busy_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random moment between ``start`` and ``end``, more likely in office hours on
    a weekday (in the current time zone)."""
    span = (end - start).total_seconds()
    while True:
        moment = start + timedelta(seconds=rng.random() * span)
        if rng.random() < _weight(moment):
            return moment


def counterpart_fields(mapping_name: str, fields: dict) -> dict:
    """What the engine would write on the right for these left fields (raises
    PermanentError for a value the field map cannot carry)."""
    return {"labels": [], **fieldmap.transform(FIELD_MAP, LEFT, fields, mapping_name)}


def error_for(mapping: Mapping, fields: dict) -> PermanentError:
    """The error the engine itself raises for these (unmappable) left fields."""
    try:
        fieldmap.transform(FIELD_MAP, LEFT, fields, mapping.name)
    except PermanentError as exc:
        return exc
    raise AssertionError(f"expected {fields} to be unmappable")


@dataclass
class MadeSync:
    """One sync's past: ``status``, the status it is to end in; the sync (unsaved);
    its left and right artifacts (unsaved; right None while the counterpart is not
    created); its log entries and sync events (unsaved, not yet bound to the sync);
    ``failure``, how its last processing failed, if it did."""

    status: str
    sync: Synchronization
    left: SandboxArtifact
    right: SandboxArtifact | None
    logs: list[LogEntry]
    events: list[SyncEvent]
    # How its last processing failed, (message, detail, when), for those that end in
    # error or ignored: seeding fails them with SynchronizationQuerySet.fail().
    failure: tuple[str, str, datetime] | None = None


class History:
    """Makes the past of demo syncs between ``start`` and ``now`` (aware datetimes)
    from the random source ``rng``. ``claimed_at`` is when the dead worker claimed
    the syncs that end in processing."""

    def __init__(self, rng: random.Random, start: datetime, now: datetime):
        self.rng = rng
        self.start = start
        self.now = now
        self.claimed_at = now - timedelta(minutes=rng.randint(1, 4))

    def make(self, mapping: Mapping, numbers: dict[str, int], status: str) -> MadeSync:
        """The past of one sync of ``mapping`` that ends in ``status``. ``numbers``
        holds the last artifact number used on each side (LEFT, RIGHT); it is
        advanced for the artifacts made."""
        rng = self.rng
        logs: list[LogEntry] = []
        events: list[SyncEvent] = []

        def log(moment: datetime, message: str, level=LogEntry.Level.INFO, detail: str = "", actor: str = ""):
            logs.append(
                LogEntry(timestamp=moment, level=level, message=message, detail=detail, actor=actor, mapping=mapping)
            )

        created_at = busy_moment(rng, self.start, self.now - timedelta(hours=1))
        fields = left_fields(rng)
        left = self._artifact(mapping, numbers, LEFT, fields, created_at)
        log(created_at, wording.new_artifact(left.key, mapping.name))
        source = wording.origin(left.key, mapping.left.name)
        right = processed_at = None

        # A fresh pending sync has not created its counterpart yet.
        if status != SyncStatus.PENDING or rng.random() < 0.5:
            processed_at = self._soon_after(created_at)
            right = self._artifact(mapping, numbers, RIGHT, counterpart_fields(mapping.name, fields), processed_at)
            log(processed_at, wording.created(right.key, mapping.right.name, source))
            events.append(SyncEvent(occurred_at=processed_at, kind=EventKind.CREATED, mapping=mapping))
            # About one edit every 25 days of the sync's life, so that the traffic per
            # day stays steady over the history.
            edits = sum(1 for _ in range((self.now - processed_at).days) if rng.random() < 0.04)
            moments = sorted(busy_moment(rng, processed_at, self.now - timedelta(minutes=5)) for _ in range(edits))
            for edited_at in moments:
                edited = {**fields, "status": rng.choice(LEFT_STATUSES), "assignee": rng.choice(PEOPLE)}
                carried = counterpart_fields(mapping.name, edited)
                changed = [name for name, value in carried.items() if right.fields.get(name) != value]
                if not changed:
                    continue  # saved with the same values: detection sees no change
                fields = edited
                left.version += 1
                left.updated_at = edited_at
                log(edited_at, wording.change_detected(left.key))
                processed_at = self._soon_after(edited_at)
                right.fields = {**right.fields, **carried}
                right.version += 1
                right.updated_at = processed_at
                log(processed_at, wording.updated(right.key, mapping.right.name, source, changed))
                events.append(SyncEvent(occurred_at=processed_at, kind=EventKind.UPDATED, mapping=mapping))
        left.fields = fields
        # What was last synced: both sides' fingerprints after the last success.
        names = {side: fieldmap.relevant_fields(FIELD_MAP, side) for side in (LEFT, RIGHT)}
        synced = {
            "left_fingerprint": fieldmap.fingerprint(left.fields, names[LEFT]) if right else "",
            "right_fingerprint": fieldmap.fingerprint(right.fields, names[RIGHT]) if right else "",
        }
        state = {"status": SyncStatus.OK if right else SyncStatus.PENDING}
        failure = None

        if status in (SyncStatus.ERROR, SyncStatus.IGNORED):
            # The left artifact was then edited to a value the mapping cannot carry.
            edited_at = busy_moment(rng, processed_at, self.now - timedelta(minutes=1))
            name = rng.choice(sorted(UNMAPPED))
            left.fields = {**left.fields, name: rng.choice(UNMAPPED[name])}
            left.version += 1
            left.updated_at = edited_at
            error = error_for(mapping, left.fields)
            processed_at = self._soon_after(edited_at)
            log(edited_at, wording.change_detected(left.key))
            log(processed_at, wording.processing_failed(error.message), LogEntry.Level.ERROR, error.detail)
            failure = (error.message, error.detail, processed_at)
            if status == SyncStatus.IGNORED:
                cleared = min(processed_at + timedelta(minutes=rng.randint(5, 600)), self.now)
                log(cleared, wording.error_cleared(OPERATOR, ignore_changes=True), actor=OPERATOR)
        elif status in (SyncStatus.PENDING, SyncStatus.PROCESSING) and right is not None:
            # Edited since it was last synced, and detection saw it (then a worker
            # claimed the processing ones).
            before = self.claimed_at if status == SyncStatus.PROCESSING else self.now
            detected_at = before - timedelta(seconds=rng.randint(1, 120))
            left.fields = {**left.fields, "status": rng.choice([s for s in LEFT_STATUSES if s != fields["status"]])}
            left.version += 1
            left.updated_at = detected_at
            log(detected_at, wording.change_detected(left.key))

        sync = Synchronization(
            mapping=mapping,
            left_key=left.key,
            right_key=right.key if right else "",
            title=fields["title"],
            created_at=created_at,
            last_processed_at=processed_at,
            **synced,
            **state,
        )
        return MadeSync(status=status, sync=sync, left=left, right=right, logs=logs, events=events, failure=failure)

    def _soon_after(self, moment: datetime) -> datetime:
        """When a worker processed what detection saw at ``moment``."""
        return moment + timedelta(seconds=self.rng.randint(2, 30))

    def _artifact(
        self, mapping: Mapping, numbers: dict[str, int], side: str, fields: dict, moment: datetime
    ) -> SandboxArtifact:
        numbers[side] += self.rng.randint(1, 3)
        prefix = mapping.left_scope if side == LEFT else mapping.right_scope
        repository = mapping.left if side == LEFT else mapping.right
        return SandboxArtifact(
            repository=repository, key=f"{prefix}-{numbers[side]}", fields=fields, version=1, updated_at=moment
        )
