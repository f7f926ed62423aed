"""Demo data: four mappings, each between two sandbox repositories, about 2,000
syncs in every status over real sandbox artifacts (so that Retry really processes
them again), their log entries, and 90 days of sync events with their rollup.

The value maps leave some values unmapped ("Blocker", "Blocked", …): syncs whose
artifacts carry them are in error for that real reason, and stay so until the value
map or the artifact is fixed. Generated from a seeded random source, relative to
the time it runs."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from metrics import rollup
from metrics.models import EventKind, HourlyRollup, SyncEvent
from synchronizations.connectors.sandbox import artifact_url
from synchronizations.engine import fieldmap
from synchronizations.engine.errors import PermanentError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import (
    LogEntry,
    Mapping,
    Repository,
    SandboxArtifact,
    SandboxSequence,
    Synchronization,
    SyncStatus,
    error_pattern,
)

# Jira-like on the left, QA-tracker-like on the right.
LEFT_STATUSES = ["Open", "In Progress", "Done"]
RIGHT_STATUSES = ["New", "Active", "Closed"]
PRIORITIES = ["Highest", "High", "Medium", "Low"]
SEVERITIES = ["Critical", "Major", "Minor", "Trivial"]
UNMAPPED = {"priority": ["Blocker", "Needs triage"], "status": ["Blocked", "Won't fix"]}

FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {"left": "description", "right": "description", "direction": "both"},
    {
        "left": "status",
        "right": "status",
        "direction": "both",
        "values": dict(zip(LEFT_STATUSES, RIGHT_STATUSES, strict=True)),
    },
    {
        "left": "priority",
        "right": "severity",
        "direction": "left_to_right",
        "values": dict(zip(PRIORITIES, SEVERITIES, strict=True)),
    },
    {"left": "assignee", "right": "assignee", "direction": "both"},
]
LEFT_SETTINGS = {"required": ["title"], "allowed": {"status": LEFT_STATUSES + UNMAPPED["status"]}}
RIGHT_SETTINGS = {"required": ["title"], "allowed": {"status": RIGHT_STATUSES, "severity": SEVERITIES}}


@dataclass(frozen=True)
class DemoMapping:
    name: str
    left: tuple[str, str]  # repository name, key prefix
    right: tuple[str, str]
    share: float  # of all syncs
    enabled: bool = True


MAPPINGS = [
    DemoMapping("Web defects ↔ QA tickets", ("Jira · Web shop", "WEB"), ("QA Tracker · Web shop", "DEF"), 0.45),
    DemoMapping("Mobile bugs ↔ GitHub issues", ("Jira · Mobile", "MOB"), ("GitHub · acme/mobile-app", "GH"), 0.25),
    DemoMapping("Support escalations ↔ Engineering", ("Support Desk", "CASE"), ("Jira · Engineering", "ENG"), 0.25),
    DemoMapping(
        "Roadmap epics ↔ QA plans (paused)", ("Jira · Roadmap", "RM"), ("QA Tracker · Plans", "PLAN"), 0.05, False
    ),
]

STATUS_MIX = [
    (SyncStatus.OK, 0.80),
    (SyncStatus.PENDING, 0.05),
    (SyncStatus.PROCESSING, 0.01),
    (SyncStatus.ERROR, 0.10),
    (SyncStatus.IGNORED, 0.04),
]
COMPONENTS = [
    "Checkout", "Login", "Search", "Reports", "Notifications", "Public API", "Billing",
    "Dashboard", "CSV export", "User settings", "Invoices", "Onboarding",
]  # fmt: skip
PROBLEMS = [
    "fails with HTTP 500 when the cart is empty",
    "button is cut off on small screens",
    "takes over 10 s with more than 1,000 rows",
    "shows times in the wrong time zone",
    "crashes right after the 4.2 update",
    "sends the confirmation e-mail twice",
    "has a typo in the confirmation dialog",
    "drops the last column",
    "logs the user out after 5 minutes",
    "refuses attachments over 10 MB",
    "ignores the saved language preference",
    "rounds totals to the wrong cent",
]
PEOPLE = ["alice", "bob", "chen", "dana", "emeka", "farah", "gus", ""]


def _weight(moment: datetime) -> float:
    """Busier on weekdays and in office hours, as real traffic is."""
    local = timezone.localtime(moment)
    weekday = 1.0 if local.weekday() < 5 else 0.25
    hour = 1.0 if 8 <= local.hour < 18 else (0.35 if 6 <= local.hour < 22 else 0.08)
    return weekday * hour


def busy_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    while True:
        moment = start + timedelta(seconds=rng.random() * span)
        if rng.random() < _weight(moment):
            return moment


def left_fields(rng: random.Random) -> dict:
    return {
        "title": f"{rng.choice(COMPONENTS)} {rng.choice(PROBLEMS)}",
        "description": "Steps to reproduce are in the first comment.",
        "status": rng.choice(LEFT_STATUSES),
        "priority": rng.choice(PRIORITIES),
        "assignee": rng.choice(PEOPLE),
        "labels": rng.sample(["customer", "regression", "ui", "backend", "security"], 2),
    }


def counterpart_fields(mapping_name: str, fields: dict) -> dict:
    """What the engine would write on the right for these left fields."""
    return {"labels": [], **fieldmap.transform(FIELD_MAP, LEFT, fields, mapping_name)}


class DemoBuilder:
    def __init__(self, syncs: int, days: int, seed: int, now: datetime | None = None):
        self.count = syncs
        self.days = days
        self.rng = random.Random(seed)
        self.now = now or timezone.now()
        self.start = self.now - timedelta(days=days)

    def build(self) -> dict[str, int]:
        syncs, artifacts, logs, events = [], [], [], []
        for demo in MAPPINGS:
            mapping = self._mapping(demo)
            numbers = {LEFT: self.rng.randint(100, 900), RIGHT: self.rng.randint(100, 900)}
            for _ in range(round(self.count * demo.share)):
                made = self._sync(demo, mapping, numbers)
                syncs.append(made[0])
                artifacts.append(made[1])
                logs.append(made[2])
                events.append(made[3])
        with transaction.atomic():
            feed = self._number_changes([a for pair in artifacts for a in pair if a])
            SandboxArtifact.objects.bulk_create([a for pair in artifacts for a in pair if a], batch_size=1000)
            # Detection starts from here: the generated history counts as already seen.
            for mapping in Mapping.objects.filter(name__in=[m.name for m in MAPPINGS]):
                Mapping.objects.filter(pk=mapping.pk).update(
                    left_cursor=str(feed.get(mapping.left_id, 0)), right_cursor=str(feed.get(mapping.right_id, 0))
                )
            for sync, pair in zip(syncs, artifacts, strict=True):
                for side, artifact in zip((LEFT, RIGHT), pair, strict=True):
                    if artifact is not None:
                        setattr(sync, f"{side}_url", artifact_url(artifact.repository, artifact.pk))
            Synchronization.objects.bulk_create(syncs, batch_size=500)
            all_logs = [entry for sync, entries in zip(syncs, logs, strict=True) for entry in self._bind(sync, entries)]
            all_events = [
                event for sync, entries in zip(syncs, events, strict=True) for event in self._bind(sync, entries)
            ]
            LogEntry.objects.bulk_create(all_logs, batch_size=1000)
            SyncEvent.objects.bulk_create(all_events, batch_size=1000)
            rollup_rows = rollup.rebuild(self.start - timedelta(days=1), self.now + timedelta(hours=1))
        return {
            "repositories": 2 * len(MAPPINGS),
            "mappings": len(MAPPINGS),
            "syncs": len(syncs),
            "sandbox artifacts": sum(1 for pair in artifacts for a in pair if a),
            "log entries": len(all_logs),
            "sync events": len(all_events),
            "rollup rows": rollup_rows,
        }

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
    def _bind(sync, rows):
        for row in rows:
            row.sync = sync
            yield row

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

    def _sync(self, demo: DemoMapping, mapping: Mapping, numbers: dict):
        rng = self.rng
        status = rng.choices([s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX])[0]
        created_at = busy_moment(rng, self.start, self.now - timedelta(hours=1))
        names = {side: fieldmap.relevant_fields(FIELD_MAP, side) for side in (LEFT, RIGHT)}
        logs: list[LogEntry] = []
        events: list[SyncEvent] = []

        def log(moment, message, level=LogEntry.Level.INFO, detail="", actor=""):
            logs.append(
                LogEntry(timestamp=moment, level=level, message=message, detail=detail, actor=actor, mapping=mapping)
            )

        def artifact(side, fields, moment):
            numbers[side] += rng.randint(1, 3)
            prefix = mapping.left_scope if side == LEFT else mapping.right_scope
            repository = mapping.left if side == LEFT else mapping.right
            return SandboxArtifact(
                repository=repository, key=f"{prefix}-{numbers[side]}", fields=fields, version=1, updated_at=moment
            )

        fields = left_fields(rng)
        left = artifact(LEFT, fields, created_at)
        log(created_at, f"New artifact {left.key} in scope of '{mapping.name}': sync created.")
        # A fresh pending sync has not created its counterpart yet.
        right = None
        moment = created_at
        if status != SyncStatus.PENDING or rng.random() < 0.5:
            moment = created_at + timedelta(seconds=rng.randint(2, 90))
            right = artifact(RIGHT, counterpart_fields(mapping.name, fields), moment)
            log(moment, f"Created {right.key} in '{mapping.right.name}' from {left.key} in '{mapping.left.name}'.")
            events.append(SyncEvent(occurred_at=moment, kind=EventKind.CREATED, mapping=mapping))
            # About one edit every 25 days of the sync's life, so that the traffic per
            # day stays steady over the history.
            edits = sum(1 for _ in range((self.now - moment).days) if rng.random() < 0.04)
            for moment in sorted(busy_moment(rng, moment, self.now - timedelta(minutes=5)) for _ in range(edits)):
                fields = {**fields, "status": rng.choice(LEFT_STATUSES), "assignee": rng.choice(PEOPLE)}
                right.fields = {**right.fields, **counterpart_fields(mapping.name, fields)}
                right.version += 1
                left.version += 1
                log(moment, f"Updated {right.key} in '{mapping.right.name}' from {left.key}: assignee, status.")
                events.append(SyncEvent(occurred_at=moment, kind=EventKind.UPDATED, mapping=mapping))
            left.updated_at = right.updated_at = moment
        left.fields = fields

        sync = Synchronization(
            mapping=mapping,
            left_key=left.key,
            right_key=right.key if right else "",
            title=fields["title"],
            status=status,
            created_at=created_at,
            last_processed_at=moment if right else None,
            left_fingerprint=fieldmap.fingerprint(left.fields, names[LEFT]) if right else "",
            right_fingerprint=fieldmap.fingerprint(right.fields, names[RIGHT]) if right else "",
        )
        if status in (SyncStatus.ERROR, SyncStatus.IGNORED):
            # The left artifact was then edited to a value the mapping cannot carry.
            error_at = busy_moment(rng, moment, self.now - timedelta(minutes=1))
            name = rng.choice(["priority", "status"])
            left.fields = {**left.fields, name: rng.choice(UNMAPPED[name])}
            left.version += 1
            left.updated_at = error_at
            error = self._error_for(mapping, left.fields)
            log(error_at, f"Change detected on {left.key}.")
            log(error_at, f"Processing failed: {error.message}", LogEntry.Level.ERROR, error.detail)
            sync.last_processed_at = error_at
            if status == SyncStatus.ERROR:
                sync.error_message, sync.error_detail, sync.error_at = error.message, error.detail, error_at
                sync.error_pattern = error_pattern(error.message)
                sync.attempts = 1
                sync.retry_count = rng.choice([0, 0, 0, 1, 2])
            else:
                sync.ignore_changes = True
                cleared = min(error_at + timedelta(minutes=rng.randint(5, 600)), self.now)
                log(cleared, "Error cleared by admin; new changes are ignored.", actor="admin")
        elif status == SyncStatus.PENDING:
            if right is not None:  # edited since it was last synced
                left.fields = {**left.fields, "status": rng.choice([s for s in LEFT_STATUSES if s != fields["status"]])}
                left.version += 1
            sync.next_retry_at = self.now  # due: the engine picks it up on its next round
            log(self.now - timedelta(seconds=rng.randint(1, 120)), "Change detected; queued for processing.")
        elif status == SyncStatus.PROCESSING:
            # Claimed by a worker that is gone: the reaper puts it back after its timeout.
            sync.claimed_by = "demo-worker-that-died"
            sync.processing_started_at = self.now - timedelta(minutes=rng.randint(1, 4))
            log(sync.processing_started_at, "Processing started.")
        return sync, (left, right), logs, events

    @staticmethod
    def _error_for(mapping: Mapping, fields: dict) -> PermanentError:
        """The error the engine itself raises for these fields."""
        try:
            fieldmap.transform(FIELD_MAP, LEFT, fields, mapping.name)
        except PermanentError as exc:
            return exc
        raise AssertionError(f"expected {fields} to be unmappable")


def demo_present() -> bool:
    return Mapping.objects.filter(name__in=[m.name for m in MAPPINGS]).exists()


def demo_repository_names() -> set[str]:
    return {name for m in MAPPINGS for name, _ in (m.left, m.right)}


@transaction.atomic
def remove_demo() -> None:
    """Deletes the demo mappings and repositories and everything hanging off them."""
    mappings = Mapping.objects.filter(name__in=[m.name for m in MAPPINGS])
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
    """Loads the demo data; returns the counts, or None when it was there already."""
    if demo_present():
        if not reset:
            return None
        remove_demo()
    return DemoBuilder(syncs=syncs, days=days, seed=seed, now=now).build()


class DemoTraffic:
    """Plays the people using the demo trackers: creates and edits artifacts, now and
    then with a value the mapping cannot carry, and takes a repository offline for a
    short outage. One ``step()`` is one such action; it returns what it did."""

    OUTAGE = (15, 40)  # seconds

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)
        self.outages: dict[int, datetime] = {}  # repository id -> back online at

    def step(self) -> str:
        self._end_outages()
        mappings = list(Mapping.objects.filter(enabled=True, name__in=[m.name for m in MAPPINGS]))
        if not mappings:
            return "no enabled demo mapping: nothing to do"
        mapping = self.rng.choice(mappings)
        actions = [
            (self.create, 30),
            (self.edit_left, 30),
            (self.edit_right, 12),
            (self.unmappable_edit, 8),
            (self.create_without_title, 4),
            (self.fix_an_error, 10),
            (self.outage, 3),
        ]
        action = self.rng.choices([a for a, _ in actions], weights=[w for _, w in actions])[0]
        return action(mapping)

    def stop(self) -> None:
        """Ends every outage this player started."""
        for repository_id in list(self.outages):
            self._set_offline(repository_id, False)
        self.outages.clear()

    # --- actions ------------------------------------------------------------------

    def create(self, mapping: Mapping, fields: dict | None = None) -> str:
        fields = fields or left_fields(self.rng)
        number = self._next_number(mapping)
        SandboxArtifact.objects.create(repository=mapping.left, key=f"{mapping.left_scope}-{number}", fields=fields)
        return f"created {mapping.left_scope}-{number} in '{mapping.left.name}': {fields['title'] or '(no title)'}"

    def edit_left(self, mapping: Mapping) -> str:
        return self._edit(mapping.left, mapping.left_scope, {"status": LEFT_STATUSES, "priority": PRIORITIES})

    def edit_right(self, mapping: Mapping) -> str:
        return self._edit(mapping.right, mapping.right_scope, {"status": RIGHT_STATUSES, "assignee": PEOPLE})

    def unmappable_edit(self, mapping: Mapping) -> str:
        name = self.rng.choice(sorted(UNMAPPED))
        return self._edit(mapping.left, mapping.left_scope, {name: UNMAPPED[name]})

    def create_without_title(self, mapping: Mapping) -> str:
        return self.create(mapping, {**left_fields(self.rng), "title": ""})

    def fix_an_error(self, mapping: Mapping) -> str:
        """Someone corrects the value that put a sync in error: it recovers by itself."""
        sync = Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).order_by("?").first()
        artifact = sync and SandboxArtifact.objects.filter(repository=mapping.left, key=sync.left_key).first()
        if artifact is None:
            return self.edit_left(mapping)
        artifact.fields = {
            **artifact.fields,
            "title": artifact.fields.get("title") or "Untitled report",
            "status": self._mapped(artifact.fields.get("status"), LEFT_STATUSES),
            "priority": self._mapped(artifact.fields.get("priority"), PRIORITIES),
        }
        artifact.save()
        return f"fixed {artifact.key} in '{mapping.left.name}' (sync {sync.pk} was in error)"

    def outage(self, mapping: Mapping) -> str:
        repository = self.rng.choice([mapping.left, mapping.right])
        if repository.pk in self.outages:
            return self.edit_left(mapping)
        seconds = self.rng.randint(*self.OUTAGE)
        self._set_offline(repository.pk, True)
        self.outages[repository.pk] = timezone.now() + timedelta(seconds=seconds)
        return f"'{repository.name}' goes offline for {seconds} s"

    # --- helpers ------------------------------------------------------------------

    def _mapped(self, value, allowed: list[str]) -> str:
        return value if value in allowed else self.rng.choice(allowed)

    def _edit(self, repository: Repository, scope: str, choices: dict[str, list[str]]) -> str:
        artifact = (
            SandboxArtifact.objects.filter(repository=repository, key__startswith=f"{scope}-").order_by("?").first()
        )
        if artifact is None:
            return f"nothing to edit in '{repository.name}' yet"
        name = self.rng.choice(sorted(choices))
        value = self.rng.choice(choices[name])
        artifact.fields = {**artifact.fields, name: value}
        artifact.save()
        return f"edited {artifact.key} in '{repository.name}': {name} = {value!r}"

    def _next_number(self, mapping: Mapping) -> int:
        last = (
            SandboxArtifact.objects.filter(repository=mapping.left, key__startswith=f"{mapping.left_scope}-")
            .order_by("-id")
            .values_list("key", flat=True)
            .first()
        )
        return int(last.rsplit("-", 1)[1]) + 1 if last else 1

    def _set_offline(self, repository_id: int, offline: bool) -> None:
        with transaction.atomic():
            repository = Repository.objects.select_for_update().get(pk=repository_id)
            repository.settings = {**repository.settings, "offline": offline}
            repository.save(update_fields=["settings"])

    def _end_outages(self) -> None:
        now = timezone.now()
        for repository_id, until in list(self.outages.items()):
            if until <= now:
                self._set_offline(repository_id, False)
                del self.outages[repository_id]
