"""The worker probe: a job whose only work is to prove that the queue runs."""

import time

from celery import shared_task

from runtime.models import WorkerProbe

MAX_HOLD = 60.0  # seconds; a probe never occupies a worker longer than this


@shared_task(bind=True)
def probe(self, token: str, hold: float = 0.0) -> None:
    """A round trip through the broker, a worker and the database: records that a
    worker answered probe ``token`` (a WorkerProbe row). Running it twice records it once.

    ``hold`` keeps the worker busy that many seconds first (at most MAX_HOLD), to
    watch what happens to a job whose worker dies or is stopped meanwhile."""
    if hold:
        time.sleep(min(hold, MAX_HOLD))
    WorkerProbe.record(token, answered_by=self.request.hostname or "eager (the calling process)")


def probe_answer(token: str) -> WorkerProbe | None:
    """The answer to probe ``token``, or None while no worker has recorded it."""
    return WorkerProbe.answer(token)
