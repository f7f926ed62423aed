"""Celery tasks: thin wrappers that take ids (or tokens) and call plain code."""

import time

from celery import shared_task

from synchronizations.models import LogEntry

PROBE_PREFIX = "Worker probe "


@shared_task(bind=True)
def probe(self, token: str, hold: float = 0.0) -> None:
    """A round trip through the broker, a worker and the database: records that a
    worker answered probe ``token``. Running it twice records it once.

    ``hold`` keeps the worker busy that many seconds first, to watch what happens to
    a job whose worker dies or is stopped meanwhile."""
    if hold:
        time.sleep(min(hold, 60.0))
    if LogEntry.objects.filter(message__startswith=f"{PROBE_PREFIX}{token} ").exists():
        return
    LogEntry.objects.create(
        level=LogEntry.Level.DEBUG, message=f"{PROBE_PREFIX}{token} answered by {self.request.hostname}"
    )


def probe_answer(token: str) -> LogEntry | None:
    return LogEntry.objects.filter(message__startswith=f"{PROBE_PREFIX}{token} ").first()
