"""Sending notifications through Apprise, and what follows from each attempt.

Pending deliveries are sent a few at a time in threads (send_due), so a channel that
hangs until its timeout never holds the others back; the threads only talk to the
channels, every database write happens in the caller's thread. A failed attempt is
tried again after SYNCWEB_ALERT_RETRY_BASE * 2^(attempts-1) seconds (at most an
hour), at the evaluation round nearest that time (rounds.run_round); after
SYNCWEB_ALERT_DELIVERY_ATTEMPTS attempts the delivery is marked failed and the Logs
tab says so. Nothing a channel answers is shown or logged before its
secrets are masked (scrub)."""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import apprise
from django.conf import settings
from django.db.models import F

from alerts.models import Channel, ChannelURLError, Delivery, redacted_url, url_secrets
from synchronizations.credentials import CredentialError
from synchronizations.models import LogEntry

logger = logging.getLogger(__name__)

# Deliveries sent at once, and per round.
PARALLEL = 4
BATCH = 50
LONGEST_BACKOFF = timedelta(hours=1)
NOTIFY_TYPES = {
    Delivery.Kind.FIRING: apprise.NotifyType.FAILURE,
    Delivery.Kind.REPEAT: apprise.NotifyType.WARNING,
    Delivery.Kind.RESOLVED: apprise.NotifyType.SUCCESS,
    Delivery.Kind.TEST: apprise.NotifyType.INFO,
}


def scrub(text: str, plain_url: str) -> str:
    """``text`` with the URL ``plain_url`` replaced by its redacted form, and every
    part of it that the redacted form hides (url_secrets: user, password, token in
    place of the host, path, query values, fragment) by "****". Never raises."""
    try:
        shown = redacted_url(plain_url)
    except ChannelURLError:
        shown = "(unreadable URL)"
    text = text.replace(plain_url, shown)
    for part in sorted(url_secrets(plain_url), key=len, reverse=True):
        if len(part) >= 3 and part not in shown:
            text = text.replace(part, "****")
    return text


def send(channel: Channel, title: str, body: str, kind: str) -> str:
    """Sends one notification to ``channel``; "" when the channel took it, else why
    not, with the channel's secrets masked. Touches no database table; never raises."""
    try:
        plain = channel.url_value()
    except CredentialError as exc:
        return f"The channel's URL cannot be decrypted: {exc}"
    notifier = apprise.Apprise()
    if not notifier.add(plain):
        return "Apprise cannot read the channel's URL; enter it again."
    lines: list[str] = []
    try:
        result = notifier.notify(
            body=body,
            title=title,
            notify_type=NOTIFY_TYPES.get(kind, apprise.NotifyType.INFO),
            # Plain text, whatever it quotes (a rule's name, a tracker's error): Apprise
            # escapes it for the channels that take HTML or Markdown, lines kept.
            body_format=apprise.NotifyFormat.TEXT,
            timeout=settings.SYNCWEB_ALERT_TIMEOUT,
            log_callback=lambda entry, _plugin: lines.append(entry.message),
        )
    except Exception as exc:  # a plugin's bug must not stop the other channels
        return scrub(f"{type(exc).__name__}: {exc}", plain)
    if result:
        return ""
    return scrub(" ".join(lines)[:2000] or f"Apprise reports {result.status!s} without saying why.", plain)


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt after ``attempts`` failed ones."""
    return min(LONGEST_BACKOFF, timedelta(seconds=settings.SYNCWEB_ALERT_RETRY_BASE * 2 ** max(0, attempts - 1)))


def record(delivery: Delivery, error: str, now: datetime) -> str:
    """Writes the outcome of one attempt at ``delivery`` ("" or why it failed):
    sent; pending again after backoff(); or failed after the last attempt (a test
    is tried once). Returns the delivery's state."""
    attempts = delivery.attempts + 1
    changes = {"attempts": F("attempts") + 1, "last_attempt_at": now, "last_error": error}
    if not error:
        changes |= {"state": Delivery.State.SENT, "sent_at": now, "next_attempt_at": None}
    elif attempts >= settings.SYNCWEB_ALERT_DELIVERY_ATTEMPTS or delivery.kind == Delivery.Kind.TEST:
        changes |= {"state": Delivery.State.FAILED, "next_attempt_at": None}
    else:
        changes |= {"next_attempt_at": now + backoff(attempts)}
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.PENDING).update(**changes)
    state = changes.get("state", Delivery.State.PENDING)
    if error:
        logger.warning(
            "alert delivery %s to channel %r failed (attempt %s, now %s): %s",
            delivery.pk, delivery.channel_label, attempts, state, error,
        )  # fmt: skip
    if state == Delivery.State.FAILED and delivery.kind != Delivery.Kind.TEST:
        tries = f"{attempts} attempt" + ("s" if attempts != 1 else "")
        LogEntry.objects.create(
            level=LogEntry.Level.ERROR,
            message=f"Alert notification to channel '{delivery.channel_label}' failed after {tries}: {delivery.title}",
            detail=error,
            timestamp=now,
        )
    return state


def _attempt(delivery: Delivery) -> str:
    if delivery.channel is None:
        return "The channel was deleted."
    if not delivery.channel.enabled:
        return "The channel is disabled."
    return send(delivery.channel, delivery.title, delivery.body, delivery.kind)


def send_due(now: datetime, early: timedelta = timedelta(0)) -> dict[str, int]:
    """Sends the pending deliveries due at ``now`` (or up to ``early`` later: the
    rounds pass half their interval, so that a retry goes out at the round nearest
    its time rather than the one after; up to BATCH, PARALLEL at a time) and records
    each outcome. Returns how many ended in each state."""
    due = list(Delivery.objects.due(now + early).select_related("channel")[:BATCH])
    counts: dict[str, int] = {}
    if not due:
        return counts
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(due)), thread_name_prefix="alert-send") as pool:
        errors = list(pool.map(_attempt, due))
    for delivery, error in zip(due, errors, strict=True):
        state = record(delivery, error, now)
        counts[state] = counts.get(state, 0) + 1
    return counts


def send_test(channel: Channel, now: datetime) -> Delivery:
    """Sends a test notification to ``channel`` at once (one attempt, recorded as a
    delivery of kind test, shown on the history page). Returns the delivery."""
    delivery = Delivery.objects.create(
        channel=channel,
        channel_name=channel.name,
        kind=Delivery.Kind.TEST,
        title=f"[syncweb] TEST: notifications from {settings.SYNCWEB_BASE_URL} reach '{channel.name}'",
        body=f"A test sent from syncweb's admin ({settings.SYNCWEB_BASE_URL}/sync/). Nothing is wrong.",
        created_at=now,
        next_attempt_at=now,
    )
    record(delivery, send(channel, delivery.title, delivery.body, delivery.kind), now)
    delivery.refresh_from_db()
    return delivery
