"""Receiving one webhook delivery: check it, recognise a redelivery, and start change
detection of the repository's mappings at once.

A delivery goes through these steps, the first that fails answering (Answer):

1. The repository (404 if none has the id; 404 too for a kind that sends no webhooks
   syncweb takes: sandbox, Redmine, Roundup), its webhook secret (403 while none is
   set, or when the keys in force cannot decrypt it).
2. The signature or token, by the repository's kind (hooks/vendors.py): 401 without
   one, 403 when it does not match. Nothing is read or written before this.
3. The body: JSON, an object (400 otherwise).
4. The event: one that does not concern issues (GitHub's ``ping``, a push, a merge
   request...) is answered 200 "ignored" and starts nothing; the webhook's last
   received time is still kept (a ping shows the set-up works).
5. Change detection of each mapping with a side on the repository that may detect now
   (Mapping.detection_waits(): enabled, both repositories enabled and healthy, no
   Retry-After pending) is queued by task name (jobs.DETECT_MAPPING), the path beat's
   polling takes, so one detection per mapping at a time and the cursors hold. Every
   mapping on the repository, waiting ones too, is also marked
   (``detection_requested_at``), which only a detection that started after it and
   succeeded clears: a detection already running makes the queued one a no-op and
   may have read the side before the change, a detection may fail (a rate limit),
   and a waiting mapping may detect later; beat's next round (every SYNCWEB_TICK
   seconds) after that detects.
6. In the same transaction the delivery is recorded (repository, delivery id) once:
   a redelivery is answered 200 "duplicate" and starts nothing. When the broker does
   not take a message, the transaction is rolled back and the answer is 503 with
   Retry-After: the delivery is not recorded, so the tracker's retry (Jira retries
   5xx by itself; GitHub and GitLab on request) is acted on; polling finds the change
   meanwhile. Detections queued before the refusal run; doing it again on the
   redelivery is harmless.

The answer to an accepted delivery is 202 with the mappings whose detection was queued.
"""

import json
import logging
from collections.abc import Mapping as Headers
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hooks import vendors
from hooks.models import Delivery, Webhook
from synchronizations import credentials, jobs
from synchronizations.models import Mapping, Repository

logger = logging.getLogger(__name__)

# Seconds a sender is asked to wait (Retry-After) when the job queue did not answer.
RETRY_AFTER = 60


@dataclass
class Answer:
    """What to answer: the HTTP ``status``, a ``code`` naming the outcome (e.g.
    "accepted", "duplicate", "ignored", "bad_signature"), a sentence for the sender's
    delivery log, and ``data`` to add to a success's JSON."""

    status: int
    code: str
    detail: str
    data: dict = field(default_factory=dict)
    retry_after: int | None = None


class _NotQueued(Exception):
    """The broker did not take a detection's message: the delivery is rolled back."""


def receive(repository_id: int | None, headers: Headers[str, str], body: bytes, now: datetime | None = None) -> Answer:
    """Acts on one delivery to the repository ``repository_id`` (None: the address
    names no id) with ``headers`` (case-insensitive, as request.headers) and the raw
    ``body``; see the module's docstring. Never raises for what the sender sends;
    raises DatabaseError when the database fails. Queries, for an accepted delivery:
    the repository and its webhook, the mappings, then one transaction (the record,
    the webhook's last received time, pruning old records) whatever the number of
    mappings."""
    now = now or timezone.now()
    repository = (
        Repository.objects.select_related("webhook").filter(pk=repository_id).first() if repository_id else None
    )
    if repository is None:
        return Answer(404, "not_found", "No repository has the id in this address: copy it again from syncweb's admin.")
    vendor = vendors.VENDORS.get(repository.kind)
    if vendor is None:
        return Answer(
            404,
            "no_webhooks",
            f"Repository {repository.pk} is a {repository.get_kind_display()} repository: syncweb takes webhooks "
            "from GitHub, GitLab and Jira only. Its changes are found by polling.",
        )
    try:
        webhook = repository.webhook
    except Webhook.DoesNotExist:
        webhook = None
    if webhook is None or not webhook.secret:
        return Answer(
            403,
            "no_secret",
            f"Repository {repository.pk} has no webhook secret yet: an administrator sets one on the repository's "
            f"page in syncweb's admin and gives the same to {vendor.name}. Until then deliveries are refused.",
        )
    try:
        secret = webhook.secret_value()
    except credentials.CredentialError as exc:
        logger.warning("webhook of repository %s refused: its secret cannot be read: %s", repository.pk, exc)
        return Answer(
            403,
            "secret_unreadable",
            f"Repository {repository.pk}'s webhook secret cannot be read with the keys in force: an administrator "
            "enters it again in syncweb's admin.",
        )
    try:
        vendor.verify(secret, body, headers)
    except vendors.Refused as refusal:
        logger.warning("webhook of repository %s refused: %s", repository.pk, refusal.detail)
        return Answer(refusal.status, "unsigned" if refusal.status == 401 else "bad_signature", refusal.detail)

    payload = _json_object(body)
    if isinstance(payload, Answer):
        return payload
    event = vendor.event(headers, payload)
    if not vendor.concerns_issues(event, payload):
        Webhook.objects.filter(pk=repository.pk).update(last_received_at=now, last_event=event)
        if event == "ping":
            detail = f"{vendor.name}'s ping: the webhook reaches syncweb and its secret matches."
        else:
            detail = f"The event {event!r} does not concern issues: nothing to do."
        return Answer(200, "ignored", detail, {"event": event})

    delivery = vendor.delivery(headers, body)
    sides = Mapping.objects.filter(Q(left_id=repository.pk) | Q(right_id=repository.pk)).select_related("left", "right")
    due, waiting = [], []
    for mapping in sides.order_by("pk"):
        (waiting if mapping.detection_waits(now) else due).append(mapping.pk)
    try:
        with transaction.atomic():
            Delivery.objects.create(
                repository=repository, delivery_id=delivery, event=event, received_at=now, mappings=len(due)
            )
            # Sent now, inside the transaction, not after commit as jobs.send_on_commit
            # would: whether the broker took them decides whether the delivery is
            # recorded. A worker may start before the commit; detection reads
            # nothing this transaction writes.
            for mapping_id in due:
                if not jobs.send(jobs.DETECT_MAPPING, mapping_id):
                    raise _NotQueued
            Webhook.objects.filter(pk=repository.pk).update(last_received_at=now, last_event=event)
            # Also asked of beat, of every mapping on the repository: a detection
            # running now makes the one queued above a no-op (and may have read the
            # side before the change), and a mapping that waits (disabled, paused,
            # asked by a tracker to wait) detects as soon as it may.
            Mapping.objects.filter(pk__in=due + waiting).update(detection_requested_at=now)
            Delivery.objects.prune(now)
    except IntegrityError:
        return Answer(
            200,
            "duplicate",
            f"Delivery {delivery} was received before: nothing is started again.",
            {"event": event, "delivery": delivery},
        )
    except _NotQueued:
        return Answer(
            503,
            "unavailable",
            "The job queue (Redis) does not answer: change detection could not be started, and the delivery is not "
            "recorded, so that its redelivery is acted on. Polling finds the change meanwhile.",
            retry_after=RETRY_AFTER,
        )
    logger.info("webhook %s (%s) of repository %s: detection of mappings %s", delivery, event, repository.pk, due)
    detail = f"Change detection started for {len(due)} mapping(s)."
    if waiting:
        detail += f" {len(waiting)} mapping(s) wait (disabled, paused or asked to wait by a tracker)."
    if not due and not waiting:
        detail = "No mapping has a side on this repository: nothing to detect."
    return Answer(202, "accepted", detail, {"event": event, "delivery": delivery, "mappings": due, "waiting": waiting})


def _json_object(body: bytes) -> dict | Answer:
    """The body parsed as a JSON object, or the 400 answer saying why it is not one."""
    if not body:
        return Answer(400, "empty_body", "The body is empty: a webhook delivery carries its event as JSON.")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return Answer(
            400,
            "not_json",
            "The body is not JSON (UTF-8): set the webhook's content type to application/json.",
        )
    if not isinstance(payload, dict):
        return Answer(400, "not_object", "The body is JSON but not an object: not a webhook delivery.")
    return payload
