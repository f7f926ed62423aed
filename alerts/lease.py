"""One evaluator at a time: the round that holds the lease row evaluates and sends;
any other (a second beat, a worker running the same task, the beat watchdog) sees
the claim fail and does nothing. The claim is one conditional UPDATE, so it holds
across processes and machines on SQLite and PostgreSQL alike (the shape of
synchronizations.engine.detect.claim_mapping and healthchecks' sendalerts); a holder
that died is replaced once its lease expires."""

from datetime import datetime, timedelta

from django.db.models import Q

from alerts.models import EvaluatorLease

LEASE_ID = 1


def state() -> EvaluatorLease:
    """The lease row (created on first use)."""
    return EvaluatorLease.objects.get_or_create(pk=LEASE_ID)[0]


def claim(holder: str, now: datetime, ttl: timedelta) -> bool:
    """Takes the lease for ``holder`` until ``now + ttl`` if it is free, expired, or
    already held by ``holder``. Returns whether ``holder`` holds it now."""
    state()
    free = Q(expires_at__isnull=True) | Q(expires_at__lte=now) | Q(holder=holder)
    return bool(EvaluatorLease.objects.filter(free, pk=LEASE_ID).update(holder=holder, expires_at=now + ttl))


def release(holder: str, now: datetime, **remember) -> bool:
    """Gives the lease back if ``holder`` still holds it, saving ``remember`` (fields
    of EvaluatorLease: what the next round starts from) and the round's end ``now``.
    Returns False (saving nothing) when the lease had expired and another took it."""
    return bool(
        EvaluatorLease.objects.filter(pk=LEASE_ID, holder=holder).update(
            holder="", expires_at=None, last_round_at=now, **remember
        )
    )
