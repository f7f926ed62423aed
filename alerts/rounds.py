"""One round of alerting: take the lease, evaluate every rule, send what is due,
give the lease back. Run by the Celery task beat schedules (alerts.tasks), and by
the beat watchdog when no worker runs them (alerts.watchdog); the lease lets one
round run at a time whoever starts it."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from alerts import delivery, evaluator, lease

logger = logging.getLogger(__name__)


@dataclass
class Round:
    """What a round did: ``applied`` (alerts fired, repeated, resolved; deliveries
    queued) and ``sent`` (deliveries by the state their attempt left them in)."""

    applied: evaluator.Applied
    sent: dict[str, int] = field(default_factory=dict)


def lease_ttl() -> timedelta:
    """How long a round may hold the lease: longer than a round can take (a batch of
    deliveries each bounded by SYNCWEB_ALERT_TIMEOUT), so that only a dead holder
    loses it."""
    return timedelta(seconds=max(60.0, 4 * settings.SYNCWEB_ALERT_TIMEOUT, 4 * settings.SYNCWEB_ALERT_INTERVAL))


def run_round(holder: str, now: datetime | None = None) -> Round | None:
    """Evaluates the rules and sends the due deliveries, if ``holder`` gets the
    lease; None when another round holds it."""
    started = timezone.now()
    now = now or started
    if not lease.claim(holder, now, lease_ttl()):
        return None
    remember = {}
    try:
        applied, obs = evaluator.evaluate(now, lease.state())
        remember = {"errors_seen_until": obs.errors_seen_until, "workers_seen_at": obs.workers_seen_at}
        # Rounds come every interval, give or take beat's jitter and the evaluation's
        # time: a retry due up to half an interval from now goes now, not a whole
        # interval late (backoffs of 5, 10, 20 s at a 5 s interval were 5, 15, 20).
        early = timedelta(seconds=settings.SYNCWEB_ALERT_INTERVAL / 2)
        sent = delivery.send_due(now + (timezone.now() - started), early)
    finally:
        if not lease.release(holder, timezone.now(), **remember):
            logger.warning("the alert round of %s outlived its lease; another round took over", holder)
    return Round(applied, sent)


def is_stale(now: datetime) -> bool:
    """Whether no round has finished for three evaluation intervals: the workers
    are not running them (none alive, or Redis away)."""
    last = lease.state().last_round_at
    return last is None or now - last > timedelta(seconds=3 * settings.SYNCWEB_ALERT_INTERVAL)
