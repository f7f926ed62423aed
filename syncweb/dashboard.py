"""What the Dashboard shows. Each function is one or two indexed queries; the
broker and workers are asked with a short timeout and the answer kept a few
seconds, so the page never waits on a dead Redis."""

from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from metrics.models import SyncEvent
from runtime import broker
from synchronizations.models import Mapping, Operation, SyncCount, Synchronization, SyncStatus


def status_counts() -> list[dict]:
    return SyncStatus.tally(SyncCount.objects.by_status())


def errors_since(hours: int = 24) -> int:
    since = timezone.now() - timedelta(hours=hours)
    return Synchronization.objects.filter(status=SyncStatus.ERROR, error_at__gte=since).count()


def throughput() -> dict[str, int]:
    """Changes carried over (sync events) in the last hour and the last 24 hours."""
    now = timezone.now()
    return SyncEvent.objects.filter(occurred_at__gte=now - timedelta(hours=24)).aggregate(
        hour=Count("pk", filter=Q(occurred_at__gte=now - timedelta(hours=1))), day=Count("pk")
    )


def top_errors(limit: int = 8) -> list[dict]:
    """The most frequent kinds of error among the syncs in error."""
    rows = (
        Synchronization.objects.filter(status=SyncStatus.ERROR)
        .order_by()
        .values("error_pattern")
        .annotate(n=Count("pk"))
        .order_by("-n", "error_pattern")[:limit]
    )
    return [{"pattern": row["error_pattern"], "count": row["n"]} for row in rows]


def latest_errors(limit: int = 8):
    return (
        Synchronization.objects.filter(status=SyncStatus.ERROR)
        .select_related("mapping")
        .only("pk", "left_key", "right_key", "title", "error_message", "error_at", "mapping__name")
        .order_by("-error_at")[:limit]
    )


def latest_operations(limit: int = 6):
    return Operation.objects.select_related("requested_by").defer("sync_ids").order_by("-requested_at")[:limit]


def mappings_in_trouble() -> list[dict]:
    counts = dict(SyncCount.objects.filter(status=SyncStatus.ERROR, n__gt=0).values_list("mapping_id", "n"))
    troubled = Mapping.objects.filter(Q(pk__in=counts) | ~Q(last_detection_error="")).values_list(
        "pk", "name", "last_detection_error"
    )
    return sorted(
        (
            {"pk": pk, "name": name, "errors": counts.get(pk, 0), "detection_error": detection_error}
            for pk, name, detection_error in troubled
        ),
        key=lambda row: (-row["errors"], row["name"]),
    )


def queue_and_workers() -> dict:
    """Pending syncs (database), plus waiting messages and live workers as
    runtime.broker.queue_and_workers() gives them (short timeout, kept a few seconds)."""
    pending = SyncCount.objects.filter(status=SyncStatus.PENDING).aggregate(n=Sum("n"))["n"] or 0
    return {**broker.queue_and_workers(), "pending": pending}
