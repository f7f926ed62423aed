"""Celery tasks: thin wrappers that take ids (or tokens) and call plain code."""

from celery import shared_task

from synchronizations.models import LogEntry

PROBE_PREFIX = "Worker probe "


@shared_task(bind=True)
def probe(self, token: str) -> None:
    """A round trip through the broker, a worker and the database: records that a
    worker answered probe ``token``. Running it twice records it once."""
    if LogEntry.objects.filter(message__startswith=f"{PROBE_PREFIX}{token} ").exists():
        return
    LogEntry.objects.create(
        level=LogEntry.Level.DEBUG, message=f"{PROBE_PREFIX}{token} answered by {self.request.hostname}"
    )


def probe_answer(token: str) -> LogEntry | None:
    return LogEntry.objects.filter(message__startswith=f"{PROBE_PREFIX}{token} ").first()
