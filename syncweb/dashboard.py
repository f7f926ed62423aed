"""What the Dashboard shows, in one summary built from the queryset methods that
answer each part (each one or two indexed queries), and the broker's state asked
with a short timeout and kept a few seconds, so the page never waits on a dead Redis."""

from datetime import datetime, timedelta

from metrics.models import SyncEvent
from runtime import broker
from synchronizations.models import Mapping, Operation, SyncCount, Synchronization, SyncStatus


def summary(now: datetime) -> dict:
    """The Dashboard's numbers and lists at ``now``: status counts (tallied), errors
    of the last 24 hours, throughput, the broker and the pending syncs, the most
    frequent kinds of error, the latest errors and operations, and the mappings in
    trouble. Eight queries; the latest errors and operations are querysets the
    template reads (one query each)."""
    counts = SyncCount.objects.by_status()
    return {
        "status_counts": SyncStatus.tally(counts),
        "errors_24h": Synchronization.objects.errors_since(now - timedelta(hours=24)),
        "throughput": SyncEvent.objects.throughput(now),
        "queue": {**broker.queue_and_workers(), "pending": counts.get(SyncStatus.PENDING, 0)},
        "top_errors": Synchronization.objects.top_error_patterns(),
        "latest_errors": Synchronization.objects.latest_errors(),
        "latest_operations": Operation.objects.latest(),
        "mappings_in_trouble": Mapping.objects.in_trouble(),
        "now": now,
    }
