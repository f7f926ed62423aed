"""Times typed in a display zone, where a daylight-saving change makes a wall-clock
time happen twice or never.

The rule (stated on the page each time it applies):
- a time that happens **twice** (the clocks go back) is read as the **first**
  (earlier) of the two moments, the one still on summer time;
- a time that **does not exist** (the clocks go forward) is read as the moment the
  same distance past the change: 02:30 in a zone that jumps from 02:00 to 03:00 is
  03:30 (the clock that read 02:30 before the jump would have read 03:30 after it).
This is what Python's zoneinfo does with ``fold=0`` and what PostgreSQL does with
``AT TIME ZONE``, so exports and queries agree with the page."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.utils.timezone import localtime


def label(moment: datetime) -> str:
    """The zone abbreviation of an aware moment ("CET", "EDT", "UTC", or "+0530"
    where the zone has none)."""
    name = moment.strftime("%Z")
    if name and not name.startswith(("+", "-")):
        return name
    return moment.strftime("%z")


def text(moment: datetime, seconds: bool = False) -> str:
    """An aware moment as plain text in the current (display) zone with its zone,
    "2026-11-28 14:05 CET": for messages and notifications, which cannot carry the
    pages' <time> element (the ``moment`` and ``minute`` template filters)."""
    local = localtime(moment)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " " + label(local)


def file_stamp(moment: datetime) -> str:
    """An aware moment for a download's file name: its wall-clock time and UTC
    offset, "20261129-223934+0545" (the display zone's time, unambiguous anywhere)."""
    return moment.strftime("%Y%m%d-%H%M%S%z")


def resolve(naive: datetime, zone: ZoneInfo) -> tuple[datetime, str]:
    """The moment a wall-clock time in ``zone`` stands for, under the rule above,
    and what the page should say about it ("" for an ordinary time). Raises
    OverflowError or ValueError for times at the ends of the calendar."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first, ""
    shown = naive.strftime("%Y-%m-%d %H:%M")
    back = first.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) == naive:  # on the clock twice: the clocks went back
        return first, (
            f"{shown} happens twice in {zone.key} (the clocks go back): read as the first of the two, "
            f"{back:%H:%M} {label(back)} ({back:%z} from UTC)."
        )
    return first, (
        f"{shown} does not exist in {zone.key} (the clocks go forward): read as {back:%H:%M} {label(back)}, "
        "the same time past the change."
    )
