"""Celery tasks of the alerts: thin wrappers around alerts.rounds."""

from celery import shared_task

from alerts import rounds


@shared_task(bind=True)
def evaluate_alerts(self) -> dict:
    """Beat, every SYNCWEB_ALERT_INTERVAL seconds: one round (evaluate the rules,
    send what is due) unless another holds the lease. Returns what it did."""
    done = rounds.run_round(holder=f"task:{self.request.id or 'direct'}")
    if done is None:
        return {"ran": False}
    return {"ran": True, **vars(done.applied), "sent": done.sent}
