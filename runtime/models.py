"""The one row the runtime keeps in the database: the answer to a worker probe."""

from datetime import timedelta

from django.db import models
from django.utils import timezone

# Probes are a check, not a history: answers older than this are dropped when a
# new one is recorded, so a monitoring job probing every minute keeps about 1,440 rows.
PROBE_RETENTION = timedelta(days=1)


class WorkerProbe(models.Model):
    """Proof that a job went broker → worker → database: the worker that ran probe
    ``token`` wrote this row. One row per token, however often the job is delivered."""

    token = models.CharField(max_length=64, unique=True)
    answered_by = models.CharField(max_length=255, help_text="The hostname of the Celery worker that answered.")
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "worker probe"

    def __str__(self) -> str:
        return f"Worker probe {self.token} answered by {self.answered_by}"

    @classmethod
    def record(cls, token: str, answered_by: str) -> bool:
        """Records that worker ``answered_by`` answered probe ``token``; returns
        False (and changes nothing) if the probe was answered before. Race-safe: of
        two deliveries running at once, the unique token keeps one row."""
        _, created = cls.objects.get_or_create(token=token, defaults={"answered_by": answered_by})
        if created:
            cls.objects.filter(answered_at__lt=timezone.now() - PROBE_RETENTION).delete()
        return created

    @classmethod
    def answer(cls, token: str) -> "WorkerProbe | None":
        """The answer to probe ``token``, or None while no worker has answered it."""
        return cls.objects.filter(token=token).first()
