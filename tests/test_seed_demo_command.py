import inspect
import io
import itertools
import re
from datetime import UTC, datetime

import pytest
from django.core.management import call_command
from django.db.models import Count, Q, Sum

from metrics.models import HourlyRollup, SyncEvent
from synchronizations import demo
from synchronizations.engine import process, wording
from synchronizations.engine.detect import detect_changes
from synchronizations.models import LogEntry, Mapping, Repository, SandboxArtifact, Synchronization, SyncStatus

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 29, 12, 30, tzinfo=UTC)  # a DST change day in Europe


def counts():
    return {
        "repositories": Repository.objects.count(),
        "mappings": Mapping.objects.count(),
        "syncs": Synchronization.objects.count(),
        "logs": LogEntry.objects.count(),
        "events": SyncEvent.objects.count(),
        "rollups": HourlyRollup.objects.count(),
    }


def test_loads_about_2000_syncs_in_every_status_with_history():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Loaded demo data: 8 repositories, 4 mappings, 2000 syncs" in out.getvalue()
    statuses = dict(Synchronization.objects.values_list("status").annotate(n=Count("id")))
    assert set(statuses) == set(SyncStatus.values)
    assert all(n >= 10 for n in statuses.values())
    errors = Synchronization.objects.filter(status=SyncStatus.ERROR)
    assert not errors.filter(Q(error_message="") | Q(error_at=None)).exists()
    assert not Synchronization.objects.filter(status=SyncStatus.OK, right_key="").exists()
    assert LogEntry.objects.filter(sync__isnull=True).count() == 0
    assert LogEntry.objects.count() >= 2 * 2000
    assert SyncEvent.objects.filter(kind="created").exists() and SyncEvent.objects.filter(kind="updated").exists()


def test_running_it_again_changes_nothing():
    call_command("seed_demo", stdout=io.StringIO())
    before = counts()
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "already loaded; nothing changed" in out.getvalue()
    assert counts() == before


def test_reset_with_the_same_seed_and_time_reproduces_the_same_data():
    demo.seed(now=NOW)
    before = counts()
    first_titles = list(Synchronization.objects.order_by("left_key").values_list("left_key", "title", "status"))
    demo.seed(now=NOW, reset=True)
    assert counts() == before
    assert list(Synchronization.objects.order_by("left_key").values_list("left_key", "title", "status")) == first_titles


def test_events_span_90_days_and_the_rollup_matches_them():
    demo.seed(now=NOW)
    first = SyncEvent.objects.order_by("occurred_at").first().occurred_at
    assert (NOW - first).days >= 85
    kinds = dict(SyncEvent.objects.values_list("kind").annotate(n=Count("id")))
    totals = HourlyRollup.objects.aggregate(created=Sum("created"), updated=Sum("updated"))
    assert totals == {"created": kinds["created"], "updated": kinds["updated"]}


def test_reset_keeps_data_that_is_not_the_demo():
    demo.seed(now=NOW)
    mine = Repository.objects.create(name="Production Jira")
    demo.seed(now=NOW, reset=True)
    assert Repository.objects.filter(pk=mine.pk).exists()


def test_demo_syncs_stand_on_real_artifacts_the_engine_agrees_with():
    demo.seed(syncs=200, now=NOW)
    keys = set(SandboxArtifact.objects.values_list("key", flat=True))
    for left_key, right_key in Synchronization.objects.values_list("left_key", "right_key"):
        assert left_key in keys and (right_key in keys or right_key == "")
    # An error sync processed again fails again, for the same reason.
    sync = Synchronization.objects.filter(status=SyncStatus.ERROR).first()
    Synchronization.objects.filter(pk=sync.pk).update(status=SyncStatus.PENDING)
    assert process.process_sync(sync.pk, "check") == SyncStatus.ERROR
    assert Synchronization.objects.get(pk=sync.pk).error_message == sync.error_message
    # Reading every artifact again from the start finds no change on the OK syncs.
    ok = set(Synchronization.objects.filter(status=SyncStatus.OK).values_list("pk", flat=True))
    Mapping.objects.update(left_cursor="", right_cursor="")
    for mapping in Mapping.objects.all():
        detect_changes(mapping.pk)
    assert set(Synchronization.objects.filter(status=SyncStatus.OK).values_list("pk", flat=True)) == ok


def wording_sentences() -> list[re.Pattern]:
    """Every log message the engine's wording module can make, as a pattern: each
    argument a hole (.+), each flag both ways."""
    hole = "\x00"

    class Hole:
        def __format__(self, spec: str) -> str:
            return hole

    patterns = []
    for name, function in inspect.getmembers(wording, inspect.isfunction):
        if name == "origin":  # a part of a sentence, not a message
            continue
        parameters = inspect.signature(function).parameters.values()
        flags = [p.name for p in parameters if p.annotation is bool]
        for values in itertools.product([False, True], repeat=len(flags)):
            arguments = {p.name: [hole] if p.annotation == list[str] else Hole() for p in parameters}
            arguments.update(zip(flags, values, strict=True))
            text = function(**arguments)
            patterns.append(re.compile("(.+)".join(re.escape(part) for part in text.split(hole))))
    return patterns


def test_the_history_says_only_what_the_engine_and_the_operators_say():
    demo.seed(syncs=300, now=NOW)
    sentences = wording_sentences()
    messages = set(LogEntry.objects.values_list("message", flat=True))
    assert [m for m in messages if not any(p.fullmatch(m) for p in sentences)] == []
    # An update names the artifact written and where it came from, as the engine does.
    entry = LogEntry.objects.filter(message__startswith="Updated ").select_related("sync__mapping").first()
    sync, mapping = entry.sync, entry.sync.mapping
    source = wording.origin(sync.left_key, mapping.left.name)
    assert entry.message in {
        wording.updated(sync.right_key, mapping.right.name, source, fields)
        for fields in (["assignee"], ["status"], ["assignee", "status"])
    }


def test_pending_syncs_are_due_and_processing_ones_held_by_a_worker_that_is_gone():
    demo.seed(syncs=500, now=NOW)
    syncs = Synchronization.objects
    pending = syncs.filter(status=SyncStatus.PENDING)
    assert pending.exists() and not pending.filter(Q(next_retry_at=None) | Q(next_retry_at__gt=NOW)).exists()
    processing = syncs.filter(status=SyncStatus.PROCESSING)
    assert processing.exists()
    assert not processing.filter(Q(claimed_by="") | Q(processing_started_at=None)).exists()
    ignored = syncs.filter(status=SyncStatus.IGNORED)
    assert ignored.exists() and not ignored.filter(Q(ignore_changes=False) | ~Q(error_message="")).exists()
    errors = syncs.filter(status=SyncStatus.ERROR)
    assert not errors.filter(error_pattern="").exists()
