"""Usage history: one SyncEvent per successful propagation, and an hourly rollup of
them per mapping that the Metrics charts read instead of scanning the events."""

from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone


class EventKind(models.TextChoices):
    CREATED = "created", "Created"  # the counterpart artifact was created
    UPDATED = "updated", "Updated"  # changes were carried over to an existing counterpart


class SyncEventQuerySet(models.QuerySet):
    def throughput(self, now: datetime) -> dict[str, int]:
        """Changes carried over (events) in the hour and in the 24 hours before
        ``now``: {"hour": n, "day": n}. One query (index event_time)."""
        return self.filter(occurred_at__gte=now - timedelta(hours=24)).aggregate(
            hour=models.Count("pk", filter=models.Q(occurred_at__gte=now - timedelta(hours=1))),
            day=models.Count("pk"),
        )


class SyncEvent(models.Model):
    """One successful propagation (README, "Metrics"): a counterpart created, or changes
    carried over to it."""

    occurred_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=10, choices=EventKind.choices)
    # No index of its own: event_mapping_time starts with it.
    mapping = models.ForeignKey("synchronizations.Mapping", on_delete=models.CASCADE, related_name="+", db_index=False)
    sync = models.ForeignKey(
        "synchronizations.Synchronization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = SyncEventQuerySet.as_manager()

    class Meta:
        indexes = [
            # Rollup rebuild and raw checks: WHERE occurred_at >= ? AND occurred_at < ?.
            models.Index(fields=["occurred_at"], name="event_time"),
            # Per-mapping history: WHERE mapping_id = ? AND occurred_at >= ?.
            models.Index(fields=["mapping", "occurred_at"], name="event_mapping_time"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.kind} ({self.mapping_id})"


class HourlyRollup(models.Model):
    """Counts of SyncEvents per mapping in the hour starting at ``hour`` (UTC)."""

    hour = models.DateTimeField()
    mapping = models.ForeignKey("synchronizations.Mapping", on_delete=models.CASCADE, related_name="+")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            # One row per (hour, mapping); its index also serves the Metrics charts:
            # WHERE hour >= ? AND hour < ? [AND mapping_id = ?].
            models.UniqueConstraint(fields=["hour", "mapping"], name="rollup_hour_mapping"),
        ]
        indexes = [
            # Metrics filtered by mapping: WHERE mapping_id = ? AND hour >= ? AND hour < ?.
            models.Index(fields=["mapping", "hour"], name="rollup_mapping_hour"),
            # Metrics of all mappings: SUM(created), SUM(updated) WHERE hour >= ? AND hour < ?,
            # from the index alone.
            models.Index(fields=["hour", "created", "updated"], name="rollup_hour_counts"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} mapping {self.mapping_id}: {self.created}+{self.updated}"


class ProcessingTotal(models.Model):
    """Syncs processed since the start, per outcome (the status process_sync
    ended it in, or "skipped") and bucket of processing time: the counter and the
    histogram the Prometheus endpoint shows. Kept in the database because the
    workers are separate processes, on any number of machines; each job adds its
    tally in a few statements (metrics/processing.py)."""

    outcome = models.CharField(max_length=20)
    # An index into metrics.processing.BUCKETS: the time was at most BUCKETS[bucket]
    # seconds and more than the bucket before (len(BUCKETS): more than the last).
    bucket = models.PositiveSmallIntegerField()
    count = models.BigIntegerField(default=0)
    seconds = models.FloatField(default=0.0, help_text="The sum of their processing times.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["outcome", "bucket"], name="processing_outcome_bucket")]

    def __str__(self) -> str:
        return f"{self.outcome} bucket {self.bucket}: {self.count}"
