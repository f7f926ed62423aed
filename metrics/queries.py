"""The Metrics numbers, all from the hourly rollup (never a scan of the events),
arranged by day and by weekday and hour in the configured time zone."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Sum
from django.utils import timezone

from metrics.models import HourlyRollup
from metrics.periods import Period, percent_change

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class Counts:
    created: int = 0
    updated: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.created + other.created, self.updated + other.updated)


def _rollup(period: Period, mapping_id: int | None):
    first, after = period.bounds()
    rows = HourlyRollup.objects.filter(hour__gte=first, hour__lt=after)
    return rows.filter(mapping_id=mapping_id) if mapping_id else rows


def hourly(period: Period, mapping_id: int | None = None) -> list[tuple]:
    """(hour in local time, Counts) for each hour of the period that had events."""
    rows = (
        _rollup(period, mapping_id)
        .values("hour")
        .annotate(created=Sum("created"), updated=Sum("updated"))
        .order_by("hour")
    )
    return [(timezone.localtime(row["hour"]), Counts(row["created"], row["updated"])) for row in rows]


def totals(period: Period, mapping_id: int | None = None) -> Counts:
    sums = _rollup(period, mapping_id).aggregate(created=Sum("created"), updated=Sum("updated"))
    return Counts(sums["created"] or 0, sums["updated"] or 0)


def daily(hours: list[tuple], period: Period) -> list[tuple[date, Counts]]:
    """One entry per day of the period, zero where nothing happened."""
    days = {day: Counts() for day in period.dates()}
    for moment, counts in hours:
        days[moment.date()] = days.get(moment.date(), Counts()) + counts
    return sorted(days.items())


def grouped(hours: list[tuple]) -> dict[tuple[int, int], Counts]:
    """(ISO weekday 1-7, hour 0-23) -> Counts, only where something happened."""
    cells: dict[tuple[int, int], Counts] = {}
    for moment, counts in hours:
        key = (moment.isoweekday(), moment.hour)
        cells[key] = cells.get(key, Counts()) + counts
    return cells


@dataclass(frozen=True)
class Comparison:
    name: str
    current: int
    previous: int

    @property
    def change(self) -> float | None:
        return percent_change(self.current, self.previous)


def comparison(current: Counts, previous: Counts) -> list[Comparison]:
    return [
        Comparison("Created", current.created, previous.created),
        Comparison("Updated", current.updated, previous.updated),
        Comparison("All synchronizations", current.total, previous.total),
    ]
