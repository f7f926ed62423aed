"""The Metrics period: a start date and a length in days (the end date follows),
read from the URL, and the previous period of the same length."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from syncweb.inputs import parse_int

MAX_DAYS = 3 * 366  # "over 3 years" is refused
EARLIEST, LATEST = date(1970, 1, 1), date(9000, 12, 31)  # dates outside are refused
DEFAULT_DAYS = 31
PRESETS = (7, 31, 90)


@dataclass(frozen=True)
class Period:
    start: date
    days: int

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def previous(self) -> "Period":
        return Period(self.start - timedelta(days=self.days), self.days)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range(self.days)]

    def bounds(self, tz: ZoneInfo | None = None) -> tuple[datetime, datetime]:
        """From the first day's midnight to the midnight after the last day, in the
        time zone (so a day of a daylight-saving change has 23 or 25 hours)."""
        tz = tz or timezone.get_current_timezone()
        first = datetime.combine(self.start, time.min, tzinfo=tz)
        after = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)
        return first, after

    def as_params(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "days": str(self.days), "end": self.end.isoformat()}


def ending(last_day: date, days: int = DEFAULT_DAYS) -> Period:
    return Period(last_day - timedelta(days=days - 1), days)


def parse_period(params, today: date) -> tuple[Period, list[str]]:
    """The period the URL asks for: start + days, or end + days, or start + end.
    Anything malformed or impossible gives the default period and a message."""
    problems: list[str] = []
    start = _date(params.get("start"), "start date", problems)
    end = _date(params.get("end"), "end date", problems)
    days = _days(params.get("days"), problems)
    if problems:
        return ending(today), problems
    if start and days:
        period = Period(start, days)
    elif end and days:
        period = ending(end, days)
    elif start and end:
        if end < start:
            return ending(today), [f"The end date {end} is before the start date {start}; showing the default period."]
        period = Period(start, (end - start).days + 1)
    elif days:
        period = ending(today, days)
    else:
        return ending(today), []
    if period.days > MAX_DAYS:
        return ending(today), [f"A period of {period.days} days is longer than 3 years; showing the default period."]
    return period, []


def _date(raw: str | None, label: str, problems: list[str]) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        problems.append(f"The {label} {raw!r} is not a date that exists (YYYY-MM-DD); showing the default period.")
        return None
    if not EARLIEST <= day <= LATEST:
        problems.append(f"The {label} {raw!r} is outside {EARLIEST.year}–{LATEST.year}; showing the default period.")
        return None
    return day


def _days(raw: str | None, problems: list[str]) -> int | None:
    if not raw:
        return None
    days = parse_int(raw, minimum=1, maximum=MAX_DAYS)
    if days is None:
        problems.append(
            f"The length {raw!r} must be a number of days from 1 to {MAX_DAYS}; showing the default period."
        )
    return days


def percent_change(current: int, previous: int) -> float | None:
    """The change from the previous period, in percent; None when it had nothing."""
    if previous == 0:
        return None
    return round(100 * (current - previous) / previous, 1)
