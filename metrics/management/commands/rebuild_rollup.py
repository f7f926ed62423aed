from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from metrics import rollup
from metrics.periods import EARLIEST, LATEST, Period


def _day(raw: str, option: str) -> date:
    """A YYYY-MM-DD day in ASCII within the calendar the metrics handle; CommandError otherwise."""
    try:
        day = date.fromisoformat(raw) if raw.isascii() else None
    except ValueError:
        day = None
    if day is None:
        raise CommandError(f"{option} {raw!r} is not a date (YYYY-MM-DD).")
    if not EARLIEST <= day <= LATEST:
        raise CommandError(f"{option} {raw!r} is outside {EARLIEST.year}–{LATEST.year}.")
    return day


class Command(BaseCommand):
    help = (
        "Recomputes the hourly rollup of sync events for the days from --from to --to "
        "(inclusive, in TIME_ZONE) from the raw events: for repairs and after imports."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--to", dest="last", default=None, help="Last day, YYYY-MM-DD (default: today).")

    def handle(self, *args, first: str, last: str | None, **options):
        start = _day(first, "--from")
        end = _day(last, "--to") if last else timezone.localdate()
        if end < start:
            raise CommandError(f"--to {end} is before --from {start}.")
        begin, after = Period(start, (end - start).days + 1).bounds()
        written = rollup.rebuild(begin, after)
        self.stdout.write(
            self.style.SUCCESS(f"Rebuilt the hourly rollup from {start} to {end}: {written} rows written.")
        )
