"""How many syncs the workers processed, by outcome, and how long each took: a
tally kept in memory for one job and added to ProcessingTotal when the job ends
(a few statements per job of up to 100 syncs, not one per sync), so that the
Prometheus endpoint can read counts that every worker process, on every machine,
added to."""

import logging
import time
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import F

from metrics.models import ProcessingTotal

logger = logging.getLogger(__name__)

# Upper bounds of the histogram's buckets, in seconds (Prometheus' defaults, and
# longer ones for slow trackers).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def bucket_of(seconds: float) -> int:
    """The index of the first bucket whose bound holds ``seconds`` (len(BUCKETS): none)."""
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)


class Tally:
    """Outcomes and times of one job's syncs; saved when the ``with`` block ends,
    however it ends. Saving never fails the job: a database error is logged."""

    def __init__(self):
        self.cells: dict[tuple[str, int], list] = {}

    def timed(self, process: Callable[..., str], *args: Any) -> str:
        """Calls ``process(*args)``, which returns the outcome, and counts it with its time."""
        began = time.perf_counter()
        outcome = process(*args)
        self.add(outcome, time.perf_counter() - began)
        return outcome

    def add(self, outcome: str, seconds: float) -> None:
        cell = self.cells.setdefault((outcome, bucket_of(seconds)), [0, 0.0])
        cell[0] += 1
        cell[1] += seconds

    def __enter__(self) -> "Tally":
        return self

    def __exit__(self, *exc_info) -> None:
        try:
            self.save()
        except DatabaseError:
            logger.warning("could not record the processing tally %s", self.cells, exc_info=True)

    def save(self) -> None:
        """Adds the tally to ProcessingTotal (one UPDATE per outcome and bucket met,
        an INSERT the first time) and empties it."""
        for (outcome, bucket), (count, seconds) in sorted(self.cells.items()):
            add = {"count": F("count") + count, "seconds": F("seconds") + seconds}
            if ProcessingTotal.objects.filter(outcome=outcome, bucket=bucket).update(**add):
                continue
            try:
                with transaction.atomic():
                    ProcessingTotal.objects.create(outcome=outcome, bucket=bucket, count=count, seconds=seconds)
            except IntegrityError:  # another worker made the row meanwhile
                ProcessingTotal.objects.filter(outcome=outcome, bucket=bucket).update(**add)
        self.cells = {}
