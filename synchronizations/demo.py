"""Demo data: a few repositories and mappings, about 2,000 syncs in every status
with their log entries, and 90 days of sync events with their hourly rollup.

Generated from a seeded random source, relative to the time it runs, so every run
with the same seed produces the same shape of data."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from metrics import rollup
from metrics.models import EventKind, HourlyRollup, SyncEvent
from synchronizations.models import LogEntry, Mapping, Repository, Synchronization, SyncStatus


@dataclass(frozen=True)
class Side:
    repository: str
    base_url: str
    key_prefix: str  # "WEB-" or "#"
    url_path: str  # appended to base_url, with {key} and {number}


@dataclass(frozen=True)
class DemoMapping:
    name: str
    left: Side
    left_scope: str
    right: Side
    right_scope: str
    share: float  # of all syncs
    enabled: bool = True


JIRA = ("Acme Jira", "https://jira.acme.example")
QA = ("QA Tracker", "https://qa.acme.example")
GITHUB = ("GitHub acme/mobile-app", "https://github.acme.example/acme/mobile-app")
SUPPORT = ("Support Desk", "https://support.acme.example")

MAPPINGS = [
    DemoMapping(
        "Web defects ↔ QA tickets",
        Side(*JIRA, "WEB-", "/browse/{key}"),
        "project = WEB AND type = Bug",
        Side(*QA, "DEF-", "/defects/{key}"),
        "Web shop",
        0.45,
    ),
    DemoMapping(
        "Mobile bugs ↔ GitHub issues",
        Side(*JIRA, "MOB-", "/browse/{key}"),
        "project = MOB",
        Side(*GITHUB, "#", "/issues/{number}"),
        "label:bug",
        0.25,
    ),
    DemoMapping(
        "Support escalations ↔ Engineering",
        Side(*SUPPORT, "CASE-", "/cases/{key}"),
        "queue = Escalated",
        Side(*JIRA, "ENG-", "/browse/{key}"),
        "project = ENG",
        0.25,
    ),
    DemoMapping(
        "Roadmap epics ↔ QA plans (paused)",
        Side(*JIRA, "RM-", "/browse/{key}"),
        "project = RM AND type = Epic",
        Side(*QA, "PLAN-", "/plans/{key}"),
        "Test plans",
        0.05,
        enabled=False,
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

# (message template, permanent?) — {field}, {value}, {key}, {other}, {mapping}, {n}
ERRORS = [
    "Field 'Severity' value '{value}' has no mapping in '{mapping}'",
    "Required field 'Component' is empty on {key}",
    "HTTP 400 from {other}: field 'Found in version' must be one of 4.0, 4.1, 4.2",
    "HTTP 401 from {other}: the API token has expired",
    "HTTP 404 from {other}: {other_key} was deleted",
    "Connection to {other} timed out after 30 s ({n} attempts)",
    "HTTP 503 from {other}: service unavailable ({n} attempts)",
    "Concurrent edit: {other_key} changed on {other} while it was being updated",
]
DEMO_FIELD_MAP = [
    {"left": "title", "right": "title", "direction": "both"},
    {
        "left": "status",
        "right": "status",
        "direction": "both",
        "values": {"Open": "New", "In Progress": "Active", "Done": "Closed"},
    },
    {
        "left": "priority",
        "right": "severity",
        "direction": "left_to_right",
        "values": {"Highest": "Critical", "High": "Major", "Medium": "Minor", "Low": "Trivial"},
    },
]
UNMAPPED_VALUES = ["Blocker", "Showstopper", "Cosmetic", "Needs triage", "Won't fix"]


def _weight(moment: datetime) -> float:
    """Busier on weekdays and in office hours, as real traffic is."""
    local = timezone.localtime(moment)
    weekday = 1.0 if local.weekday() < 5 else 0.25
    hour = 1.0 if 8 <= local.hour < 18 else (0.35 if 6 <= local.hour < 22 else 0.08)
    return weekday * hour


def _busy_moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    while True:
        moment = start + timedelta(seconds=rng.random() * span)
        if rng.random() < _weight(moment):
            return moment


class DemoBuilder:
    def __init__(self, syncs: int, days: int, seed: int, now: datetime | None = None):
        self.count = syncs
        self.days = days
        self.rng = random.Random(seed)
        self.now = now or timezone.now()
        self.start = self.now - timedelta(days=days)
        self.numbers: dict[str, int] = {}

    def _key(self, side: Side) -> tuple[str, str]:
        number = self.numbers.get(side.key_prefix, self.rng.randint(120, 900)) + self.rng.randint(1, 3)
        self.numbers[side.key_prefix] = number
        key = f"{side.key_prefix}{number}"
        return key, side.base_url + side.url_path.format(key=key, number=number)

    def build(self) -> dict[str, int]:
        repositories = {}
        for demo in MAPPINGS:
            for side in (demo.left, demo.right):
                if side.repository not in repositories:
                    repositories[side.repository], _ = Repository.objects.get_or_create(
                        name=side.repository, defaults={"kind": Repository.Kind.SANDBOX, "base_url": side.base_url}
                    )
        syncs, logs, events = [], [], []
        for demo in MAPPINGS:
            mapping = Mapping.objects.create(
                name=demo.name,
                left=repositories[demo.left.repository],
                left_scope=demo.left_scope,
                right=repositories[demo.right.repository],
                right_scope=demo.right_scope,
                enabled=demo.enabled,
                field_map=DEMO_FIELD_MAP,
                last_detection_at=self.now - timedelta(seconds=self.rng.randint(5, 90)) if demo.enabled else None,
            )
            for _ in range(round(self.count * demo.share)):
                sync, sync_logs, sync_events = self._sync(demo, mapping)
                syncs.append(sync)
                logs.append(sync_logs)
                events.append(sync_events)
        with transaction.atomic():
            Synchronization.objects.bulk_create(syncs, batch_size=500)
            all_logs, all_events = [], []
            for sync, sync_logs, sync_events in zip(syncs, logs, events, strict=True):
                for entry in sync_logs:
                    entry.sync = sync
                    all_logs.append(entry)
                for event in sync_events:
                    event.sync = sync
                    all_events.append(event)
            LogEntry.objects.bulk_create(all_logs, batch_size=1000)
            SyncEvent.objects.bulk_create(all_events, batch_size=1000)
            rollup_rows = rollup.rebuild(self.start - timedelta(days=1), self.now + timedelta(hours=1))
        return {
            "repositories": len(repositories),
            "mappings": len(MAPPINGS),
            "syncs": len(syncs),
            "log entries": len(all_logs),
            "sync events": len(all_events),
            "rollup rows": rollup_rows,
        }

    def _sync(self, demo: DemoMapping, mapping: Mapping):
        rng = self.rng
        status = rng.choices([s for s, _ in STATUS_MIX], weights=[w for _, w in STATUS_MIX])[0]
        created_at = _busy_moment(rng, self.start, self.now - timedelta(hours=1))
        left_key, left_url = self._key(demo.left)
        # A fresh pending sync has not created its counterpart yet.
        counterpart = status != SyncStatus.PENDING or rng.random() < 0.5
        right_key, right_url = self._key(demo.right) if counterpart else ("", "")
        title = f"{rng.choice(COMPONENTS)} {rng.choice(PROBLEMS)}"
        sync = Synchronization(
            mapping=mapping, left_key=left_key, left_url=left_url, right_key=right_key, right_url=right_url,
            title=title, status=status, created_at=created_at,
        )  # fmt: skip
        logs: list[LogEntry] = []
        events: list[SyncEvent] = []
        right_name, left_name = demo.right.repository, demo.left.repository

        def log(moment, level, message, detail="", actor=""):
            logs.append(
                LogEntry(timestamp=moment, level=level, message=message, detail=detail, actor=actor, mapping=mapping)
            )

        log(created_at, LogEntry.Level.INFO, f"Change detected on {left_key} in {left_name}: new artifact in scope")
        moment = created_at
        if counterpart:
            moment = created_at + timedelta(seconds=rng.randint(2, 90))
            log(moment, LogEntry.Level.INFO, f"Created {right_key} in {right_name} from {left_key}")
            events.append(SyncEvent(occurred_at=moment, kind=EventKind.CREATED, mapping=mapping))
            for _ in range(rng.choices([0, 1, 2, 3, 5, 8], weights=[3, 4, 3, 2, 1, 1])[0]):
                moment = _busy_moment(rng, moment, self.now)
                fields = ", ".join(rng.sample(["status", "priority", "assignee", "description", "labels"], 2))
                source, target = (left_key, right_key) if rng.random() < 0.6 else (right_key, left_key)
                log(moment, LogEntry.Level.INFO, f"Updated {target} from {source}: {fields}")
                events.append(SyncEvent(occurred_at=moment, kind=EventKind.UPDATED, mapping=mapping))
        sync.last_processed_at = moment if counterpart else None
        if status in (SyncStatus.ERROR, SyncStatus.IGNORED):
            error_at = _busy_moment(rng, moment, self.now) if moment < self.now else self.now
            template = rng.choice(ERRORS)
            message = template.format(
                value=rng.choice(UNMAPPED_VALUES), mapping=mapping.name, key=left_key, other=right_name,
                other_key=right_key or left_key, n=rng.randint(5, 6),
            )  # fmt: skip
            target = right_url or left_url
            detail = (
                f"Request: PUT {target}\nAttempt at: {error_at.isoformat(timespec='seconds')}\nResponse: {message}\n"
            )
            sync.last_processed_at = error_at
            log(error_at, LogEntry.Level.ERROR, f"Processing failed: {message}", detail)
            if status == SyncStatus.ERROR:
                sync.error_message, sync.error_detail, sync.error_at = message, detail, error_at
                sync.retry_count = rng.randint(0, 5)
            else:
                sync.ignore_changes = True
                cleared = error_at + timedelta(minutes=rng.randint(5, 600))
                message = "Error cleared by admin; new changes are ignored"
                log(min(cleared, self.now), LogEntry.Level.INFO, message, actor="admin")
        elif status == SyncStatus.PENDING:
            log(self.now - timedelta(seconds=rng.randint(1, 120)), LogEntry.Level.INFO, "Queued for processing")
        elif status == SyncStatus.PROCESSING:
            log(self.now - timedelta(seconds=rng.randint(0, 5)), LogEntry.Level.INFO, "Processing started")
        return sync, logs, events


def demo_present() -> bool:
    return Mapping.objects.filter(name__in=[m.name for m in MAPPINGS]).exists()


@transaction.atomic
def remove_demo() -> None:
    """Deletes the demo mappings and repositories and everything hanging off them."""
    mappings = Mapping.objects.filter(name__in=[m.name for m in MAPPINGS])
    syncs = Synchronization.objects.filter(mapping__in=mappings)
    LogEntry.objects.filter(sync__in=syncs).delete()
    LogEntry.objects.filter(mapping__in=mappings).delete()
    SyncEvent.objects.filter(mapping__in=mappings).delete()
    HourlyRollup.objects.filter(mapping__in=mappings).delete()
    syncs.delete()
    mappings.delete()
    names = {side.repository for m in MAPPINGS for side in (m.left, m.right)}
    Repository.objects.filter(name__in=names).exclude(
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
