from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict

from metrics.periods import MAX_DAYS, Period, parse_period, percent_change

TODAY = date(2026, 11, 28)


def parse(query: str):
    return parse_period(QueryDict(query), TODAY)


def test_default_is_the_31_days_ending_today():
    period, problems = parse("")
    assert (period.start, period.end, period.days, problems) == (date(2026, 10, 29), TODAY, 31, [])


@pytest.mark.parametrize(
    ("query", "start", "end", "days"),
    [
        ("start=2026-01-31&days=31", date(2026, 1, 31), date(2026, 3, 2), 31),  # across a short February
        ("end=2024-03-01&days=2", date(2024, 2, 29), date(2024, 3, 1), 2),  # a leap day
        ("start=2026-12-01&end=2026-12-31", date(2026, 12, 1), date(2026, 12, 31), 31),
        ("start=2026-05-05&end=2026-05-05", date(2026, 5, 5), date(2026, 5, 5), 1),
        ("days=7", date(2026, 11, 22), TODAY, 7),
        ("start=2026-01-01&days=10&end=2030-01-01", date(2026, 1, 1), date(2026, 1, 10), 10),  # start + days win
    ],
)
def test_two_of_start_length_and_end_give_the_third(query, start, end, days):
    period, problems = parse(query)
    assert (period.start, period.end, period.days, problems) == (start, end, days, [])


def test_the_previous_period_has_the_same_length_and_ends_the_day_before():
    previous = Period(date(2024, 3, 1), 31).previous
    assert (previous.start, previous.end, previous.days) == (date(2024, 1, 30), date(2024, 2, 29), 31)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-02-30&days=3", "not a date that exists"),
        ("end=yesterday&days=3", "not a date that exists"),
        ("start=2026-11-01&end=2026-10-01", "is before the start date"),
        ("days=0", "must be a number of days from 1"),
        ("days=-3", "must be a number of days from 1"),
        ("days=ten", "must be a number of days from 1"),
        (f"days={MAX_DAYS + 1}", "must be a number of days from 1"),
        ("start=2020-01-01&end=2026-01-01", "longer than 3 years"),
    ],
)
def test_a_malformed_or_impossible_period_gives_the_default_and_says_why(query, message):
    period, problems = parse(query)
    assert (period.start, period.days) == (date(2026, 10, 29), 31)
    assert len(problems) == 1 and message in problems[0]


def test_bounds_follow_the_time_zone_across_a_daylight_saving_change():
    berlin = ZoneInfo("Europe/Berlin")
    first, after = Period(date(2026, 3, 29), 1).bounds(berlin)
    assert first.astimezone(UTC) == datetime(2026, 3, 28, 23, tzinfo=UTC)
    assert after.astimezone(UTC) == datetime(2026, 3, 29, 22, tzinfo=UTC)  # a 23-hour day


@pytest.mark.parametrize(
    ("current", "previous", "change"), [(150, 100, 50.0), (50, 100, -50.0), (7, 7, 0.0), (5, 0, None), (0, 0, None)]
)
def test_percent_change(current, previous, change):
    assert percent_change(current, previous) == change
