"""Full rescans of a mapping: change detection reading both sides from the start,
to pick up what incremental detection missed (a change feed entry lost, a scope
widened in the tracker). Asked for by an operator (the mapping's page, the admin,
``manage.py rescan_mapping``) or, every Mapping.full_scan_hours, by beat.

Here a rescan is only requested (Mapping.rescan_requested_at) and logged; change
detection (engine/detect.py) reads both sides from the start when it finds the
request, then sets last_full_scan_at and clears it (README, "Operating the error queue")."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from synchronizations import jobs
from synchronizations.engine import wording
from synchronizations.models import LogEntry, Mapping, Operation


@dataclass(frozen=True)
class RescanRequest:
    """What requesting a rescan did: ``waits`` says why change detection was not
    queued at once ("" when it was); the request then waits for the mapping's next
    regular change detection."""

    mapping: Mapping
    waits: str

    @property
    def queued(self) -> bool:
        return not self.waits


def request(mapping: Mapping, *, user=None, source: str = Operation.Source.WEB) -> RescanRequest:
    """An operator asks for a full rescan of ``mapping`` (with left and right
    loaded): the request is recorded, a mapping-level log entry names ``user`` (or
    the source, as operations do), and change detection is queued after commit,
    unless detection may not run now (Mapping.detection_waits: disabled, paused, a
    tracker asked us to wait), in which case the request waits for it."""
    now = timezone.now()
    actor = user.get_username() if user is not None and user.is_authenticated else Operation.Source(source).label
    waits = mapping.detection_waits(now)
    with transaction.atomic():
        Mapping.objects.filter(pk=mapping.pk).request_rescan(now)
        LogEntry.objects.create(timestamp=now, mapping=mapping, actor=actor, message=wording.rescan_requested(actor))
        if not waits:
            jobs.queue_detection(mapping.pk)
    mapping.rescan_requested_at = now
    return RescanRequest(mapping, waits)


def request_due(now: datetime | None = None) -> list[int]:
    """Beat: requests the periodic full rescan of each enabled mapping whose
    Mapping.next_full_scan_at() has come (full_scan_hours after the last one; a
    mapping never fully scanned, in its hour slot) and whose rescan is not requested
    already, logging it on the mapping. Queues nothing: the mapping's next regular
    change detection (detect.mappings_due, within detection_interval) does the
    rescan, so a disabled repository, a paused mapping or a tracker's Retry-After is
    honoured. Returns the ids requested. At most three queries: the candidates, one
    UPDATE, one INSERT of the log entries."""
    now = now or timezone.now()
    candidates = Mapping.objects.full_scan_candidates().only("pk", "full_scan_hours", "last_full_scan_at")
    due = {mapping.pk: mapping.full_scan_hours for mapping in candidates if mapping.next_full_scan_at(now) <= now}
    if not due:
        return []
    with transaction.atomic():
        requested = Mapping.objects.filter(pk__in=due).full_scan_candidates().request_rescan(now)
        LogEntry.objects.bulk_create(
            LogEntry(timestamp=now, mapping_id=pk, message=wording.full_scan_due(due[pk])) for pk in requested
        )
    return requested
