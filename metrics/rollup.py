"""Keeps HourlyRollup equal to an aggregation of SyncEvent."""

from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncHour

from metrics.models import EventKind, HourlyRollup, SyncEvent


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@transaction.atomic
def rebuild(start: datetime, end: datetime) -> int:
    """Recompute the rollup rows of every hour touching [start, end) from the raw
    events; returns the number of rows written. Safe to run again."""
    first_hour = floor_hour(start)
    last_hour = floor_hour(end)
    if last_hour < end:
        last_hour += timedelta(hours=1)
    HourlyRollup.objects.filter(hour__gte=first_hour, hour__lt=last_hour).delete()
    rows = (
        SyncEvent.objects.filter(occurred_at__gte=first_hour, occurred_at__lt=last_hour)
        .annotate(bucket=TruncHour("occurred_at", tzinfo=UTC))
        .values("bucket", "mapping_id")
        .annotate(
            created=Count("id", filter=Q(kind=EventKind.CREATED)),
            updated=Count("id", filter=Q(kind=EventKind.UPDATED)),
        )
        .order_by()
    )
    rollups = [
        HourlyRollup(hour=row["bucket"], mapping_id=row["mapping_id"], created=row["created"], updated=row["updated"])
        for row in rows.iterator(chunk_size=5000)
    ]
    HourlyRollup.objects.bulk_create(rollups, batch_size=2000)
    return len(rollups)
