"""Loading and removing the demo data: the demo repositories and mappings, their
syncs over real sandbox artifacts with the past history.py makes for each, and the
sync events with their hourly rollup. Generated from a seeded random source,
relative to the time it runs."""

import random
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from metrics import rollup
from metrics.models import HourlyRollup, SyncEvent
from synchronizations.connectors.sandbox import artifact_url
from synchronizations.demo.fixtures import (
    FIELD_MAP,
    LEFT_SETTINGS,
    MAPPINGS,
    RIGHT_SETTINGS,
    STATUS_MIX,
    DemoMapping,
    demo_mapping_names,
    demo_repository_names,
)
from synchronizations.demo.history import History, MadeSync
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import (
    LogEntry,
    Mapping,
    Repository,
    SandboxArtifact,
    SandboxKeyNumber,
    SandboxSequence,
    Synchronization,
    SyncStatus,
)

# The claim of the demo's processing syncs: a worker that died holding them (the
# reaper puts them back after SYNCWEB_PROCESSING_TIMEOUT).
DEAD_WORKER = "demo-worker-that-died"
# Ids per UPDATE when settling the syncs' states (well under SQLite's variable limit).
CHUNK = 5000


class DemoBuilder:
    """Builds the demo data once: ``syncs`` syncs (about; split by the mappings'
    shares) over ``days`` days up to ``now`` (default: the current time), from the
    random source seeded with ``seed``. Expects no demo data to be present (the
    mapping names are unique)."""

    def __init__(self, syncs: int, days: int, seed: int, now: datetime | None = None):
        self.count = syncs
        self.days = days
        self.rng = random.Random(seed)
        self.now = now or timezone.now()
        self.start = self.now - timedelta(days=days)
        self.history = History(self.rng, self.start, self.now)

    def build(self) -> dict[str, int]:
        """Writes everything in one transaction; returns how many rows of each kind
        it made ({"repositories": 8, "mappings": 4, "syncs": 2000, ...})."""
        made: list[MadeSync] = []
        statuses, weights = zip(*STATUS_MIX, strict=True)
        for demo in MAPPINGS:
            mapping = self._mapping(demo)
            numbers = {LEFT: self.rng.randint(100, 900), RIGHT: self.rng.randint(100, 900)}
            for _ in range(round(self.count * demo.share)):
                status = self.rng.choices(statuses, weights=weights)[0]
                made.append(self.history.make(mapping, numbers, status))
        artifacts = [artifact for m in made for artifact in (m.left, m.right) if artifact is not None]
        with transaction.atomic():
            feed = self._number_changes(artifacts)
            SandboxArtifact.objects.bulk_create(artifacts, batch_size=1000)
            SandboxKeyNumber.cover((artifact.repository_id, artifact.key) for artifact in artifacts)
            # Detection starts from here: the generated history counts as already seen.
            for mapping in Mapping.objects.filter(name__in=demo_mapping_names()):
                Mapping.objects.filter(pk=mapping.pk).update(
                    left_cursor=str(feed.get(mapping.left_id, 0)), right_cursor=str(feed.get(mapping.right_id, 0))
                )
            for m in made:
                for side, artifact in ((LEFT, m.left), (RIGHT, m.right)):
                    if artifact is not None:
                        setattr(m.sync, f"{side}_url", artifact_url(artifact.repository, artifact.pk))
            Synchronization.objects.bulk_create([m.sync for m in made], batch_size=500)
            self._settle(made)
            logs = [self._bound(entry, m.sync) for m in made for entry in m.logs]
            events = [self._bound(event, m.sync) for m in made for event in m.events]
            LogEntry.objects.bulk_create(logs, batch_size=1000)
            SyncEvent.objects.bulk_create(events, batch_size=1000)
            rollup_rows = rollup.rebuild(self.start - timedelta(days=1), self.now + timedelta(hours=1))
        return {
            "repositories": 2 * len(MAPPINGS),
            "mappings": len(MAPPINGS),
            "syncs": len(made),
            "sandbox artifacts": len(artifacts),
            "log entries": len(logs),
            "sync events": len(events),
            "rollup rows": rollup_rows,
        }

    def _settle(self, made: list[MadeSync]) -> None:
        """Brings the syncs whose past ends in a state change into their status by
        the queryset methods the engine and the operations use: the error and ignored
        ones failed (as the engine fails a sync); an operator cleared
        the ignored ones' errors; the pending and processing ones were edited since
        their last success (change detection marked them); a worker that died holds
        the processing ones; the pending ones are due (no job was queued for them)."""
        ids = defaultdict(list)
        for m in made:
            ids[m.status].append(m.sync.pk)
            if m.failure is not None:
                message, detail, at = m.failure
                Synchronization.objects.filter(pk=m.sync.pk).fail(message, detail, now=at)
        for syncs in self._chunks(ids[SyncStatus.IGNORED]):
            syncs.clear(self.now, ignore_changes=True)
        for syncs in self._chunks(ids[SyncStatus.PENDING] + ids[SyncStatus.PROCESSING]):
            syncs.mark_changed(self.now)
        for syncs in self._chunks(ids[SyncStatus.PROCESSING]):
            syncs.claim(DEAD_WORKER, self.history.claimed_at)
        for syncs in self._chunks(ids[SyncStatus.PENDING]):
            syncs.make_due(self.now)

    @staticmethod
    def _chunks(ids: list[int]):
        for i in range(0, len(ids), CHUNK):
            yield Synchronization.objects.filter(pk__in=ids[i : i + CHUNK])

    @staticmethod
    def _number_changes(artifacts: list[SandboxArtifact]) -> dict[int, int]:
        """Places the artifacts in their repositories' change feeds, oldest change
        first; returns each repository's last position."""
        last: dict[int, int] = {}
        for artifact in sorted(artifacts, key=lambda a: a.updated_at):
            last[artifact.repository_id] = artifact.change_seq = last.get(artifact.repository_id, 0) + 1
        SandboxSequence.objects.bulk_create(
            [SandboxSequence(repository_id=pk, last=n) for pk, n in last.items()],
            update_conflicts=True,
            unique_fields=["repository"],
            update_fields=["last"],
        )
        return last

    @staticmethod
    def _bound(row, sync: Synchronization):
        row.sync = sync
        return row

    def _mapping(self, demo: DemoMapping) -> Mapping:
        (left_name, left_prefix), (right_name, right_prefix) = demo.left, demo.right
        left, _ = Repository.objects.get_or_create(
            name=left_name,
            defaults={"kind": Repository.Kind.SANDBOX, "settings": {**LEFT_SETTINGS, "key_prefix": left_prefix}},
        )
        right, _ = Repository.objects.get_or_create(
            name=right_name,
            defaults={"kind": Repository.Kind.SANDBOX, "settings": {**RIGHT_SETTINGS, "key_prefix": right_prefix}},
        )
        return Mapping.objects.create(
            name=demo.name,
            left=left,
            left_scope=left_prefix,
            right=right,
            right_scope=right_prefix,
            field_map=FIELD_MAP,
            enabled=demo.enabled,
            detection_interval=10,
            last_detection_at=self.now if demo.enabled else None,
        )


def demo_present() -> bool:
    """Whether any demo mapping exists (one query)."""
    return Mapping.objects.filter(name__in=demo_mapping_names()).exists()


@transaction.atomic
def remove_demo() -> None:
    """Deletes the demo mappings and repositories and everything hanging off them
    (syncs, log entries, sync events, rollups). A demo repository that one of the
    operator's own mappings uses is kept."""
    mappings = Mapping.objects.filter(name__in=demo_mapping_names())
    syncs = Synchronization.objects.filter(mapping__in=mappings)
    LogEntry.objects.filter(Q(sync__in=syncs) | Q(mapping__in=mappings)).delete()
    SyncEvent.objects.filter(mapping__in=mappings).delete()
    HourlyRollup.objects.filter(mapping__in=mappings).delete()
    syncs.delete()
    mappings.delete()
    Repository.objects.filter(name__in=demo_repository_names()).exclude(
        Q(pk__in=Mapping.objects.values("left_id")) | Q(pk__in=Mapping.objects.values("right_id"))
    ).delete()


def seed(
    syncs: int = 2000, days: int = 90, seed: int = 1, reset: bool = False, now: datetime | None = None
) -> dict[str, int] | None:
    """Loads the demo data (see DemoBuilder); returns the counts of what it made, or
    None when the demo was there already and ``reset`` is false. With ``reset``, the
    demo data present is removed first (remove_demo())."""
    if demo_present():
        if not reset:
            return None
        remove_demo()
    return DemoBuilder(syncs=syncs, days=days, seed=seed, now=now).build()
