"""The hourly rollup stays equal to the raw events, and the Metrics numbers from
it equal a direct count of the events, in any time zone, across DST changes."""

import io
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from metrics import queries, rollup
from metrics.models import HourlyRollup, SyncEvent
from metrics.periods import Period
from tests import factories

pytestmark = pytest.mark.django_db

# Around the spring and autumn changes in Europe and the United States.
START = datetime(2026, 3, 5, tzinfo=UTC)
END = datetime(2026, 11, 5, tzinfo=UTC)


def random_events(count: int, mappings, seed: int = 7):
    rng = random.Random(seed)
    span = (END - START).total_seconds()
    events = []
    for _ in range(count):
        when = START + timedelta(seconds=rng.random() * span)
        kind = rng.choice(["created", "updated", "updated"])
        mapping = rng.choice(mappings)
        events.append(rollup.record(mapping_id=mapping.pk, kind=kind, sync_id=None, when=when))
    return events


@pytest.fixture
def mappings():
    return [factories.mapping("A"), factories.mapping("B")]


def raw_by_hour():
    rows = (
        SyncEvent.objects.annotate(hour=TruncHour("occurred_at", tzinfo=UTC))
        .values("hour", "mapping_id", "kind")
        .annotate(n=Count("id"))
    )
    return {(r["hour"], r["mapping_id"], r["kind"]): r["n"] for r in rows}


def rollup_by_hour():
    result = {}
    for row in HourlyRollup.objects.all():
        for kind in ("created", "updated"):
            if getattr(row, kind):
                result[(row.hour, row.mapping_id, kind)] = getattr(row, kind)
    return result


def test_recording_events_keeps_the_rollup_equal_to_the_events(mappings):
    random_events(600, mappings)
    assert rollup_by_hour() == raw_by_hour()


def test_rebuild_restores_a_damaged_rollup_and_says_how_many_rows(mappings):
    random_events(300, mappings)
    expected = rollup_by_hour()
    HourlyRollup.objects.filter(hour__month=6).delete()
    HourlyRollup.objects.filter(hour__month=7).update(created=999)
    out = io.StringIO()
    call_command("rebuild_rollup", "--from", "2026-03-01", "--to", "2026-11-30", stdout=out)
    assert rollup_by_hour() == expected
    assert f"{HourlyRollup.objects.count()} rows written" in out.getvalue()


def test_rebuild_refuses_bad_dates():
    with pytest.raises(CommandError, match="is not a date"):
        call_command("rebuild_rollup", "--from", "2026-02-30")
    with pytest.raises(CommandError, match="is before"):
        call_command("rebuild_rollup", "--from", "2026-02-03", "--to", "2026-02-01")


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"])
def test_daily_and_weekday_hour_numbers_equal_a_raw_count_in_the_time_zone(settings, mappings, zone):
    settings.TIME_ZONE = zone
    events = random_events(800, mappings)
    # A period that holds both daylight-saving changes of the year.
    period = Period(date(2026, 3, 20), 230)
    first, after = period.bounds()
    inside = [e for e in events if first <= e.occurred_at < after]
    hours = queries.hourly(period)
    by_day = {day: counts for day, counts in queries.daily(hours, period)}
    raw_day = Counter((timezone.localtime(e.occurred_at).date(), e.kind) for e in inside)
    assert {day: (c.created, c.updated) for day, c in by_day.items() if c.total} == {
        day: (raw_day[(day, "created")], raw_day[(day, "updated")]) for day in {d for d, _ in raw_day}
    }
    assert len(by_day) == 230  # every day, with zeros
    cells = queries.grouped(hours)
    raw_cell = Counter(
        (timezone.localtime(e.occurred_at).isoweekday(), timezone.localtime(e.occurred_at).hour) for e in inside
    )
    assert {key: counts.total for key, counts in cells.items()} == dict(raw_cell)
    assert queries.totals(period).total == len(inside)


def test_a_dst_day_in_berlin_has_23_hours_of_events(settings, mappings):
    settings.TIME_ZONE = "Europe/Berlin"
    # One event in each UTC hour from 2026-03-28 22:00 to 2026-03-29 23:00.
    for hour in range(26):
        rollup.record(
            mapping_id=mappings[0].pk, kind="updated", sync_id=None,
            when=datetime(2026, 3, 28, 22, 30, tzinfo=UTC) + timedelta(hours=hour),
        )  # fmt: skip
    days = dict(queries.daily(queries.hourly(Period(date(2026, 3, 28), 3)), Period(date(2026, 3, 28), 3)))
    assert days[date(2026, 3, 29)].total == 23
