"""Keeps HourlyRollup equal to an aggregation of SyncEvent."""

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
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


def record(*, mapping_id: int, kind: str, sync_id: int | None, when: datetime) -> SyncEvent:
    """One successful propagation: the event, and its count in the hourly rollup, in
    the caller's transaction."""
    event = SyncEvent.objects.create(occurred_at=when, kind=kind, mapping_id=mapping_id, sync_id=sync_id)
    hour = floor_hour(when)
    column = "created" if kind == EventKind.CREATED else "updated"
    bump = {column: F(column) + 1}
    if not HourlyRollup.objects.filter(hour=hour, mapping_id=mapping_id).update(**bump):
        try:
            with transaction.atomic():
                HourlyRollup.objects.create(hour=hour, mapping_id=mapping_id, **{column: 1})
        except IntegrityError:  # created by another worker meanwhile
            HourlyRollup.objects.filter(hour=hour, mapping_id=mapping_id).update(**bump)
    return event


def record_many(events: list[tuple[int, str, int | None]], when: datetime) -> None:
    """Several successful propagations at ``when``, each (mapping id, kind, sync id):
    the events in one INSERT, and one rollup change per mapping, in the caller's
    transaction. What record() does for one, for a job's syncs together."""
    if not events:
        return
    SyncEvent.objects.bulk_create(
        SyncEvent(occurred_at=when, kind=kind, mapping_id=mapping_id, sync_id=sync_id)
        for mapping_id, kind, sync_id in events
    )
    hour = floor_hour(when)
    counts: dict[int, dict[str, int]] = {}
    for mapping_id, kind, _ in events:
        column = "created" if kind == EventKind.CREATED else "updated"
        counts.setdefault(mapping_id, {"created": 0, "updated": 0})[column] += 1
    for mapping_id, added in counts.items():
        bump = {column: F(column) + n for column, n in added.items() if n}
        if not HourlyRollup.objects.filter(hour=hour, mapping_id=mapping_id).update(**bump):
            try:
                with transaction.atomic():
                    HourlyRollup.objects.create(hour=hour, mapping_id=mapping_id, **added)
            except IntegrityError:  # created by another worker meanwhile
                HourlyRollup.objects.filter(hour=hour, mapping_id=mapping_id).update(**bump)
