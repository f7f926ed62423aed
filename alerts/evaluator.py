"""Evaluating the rules: what holds now (observe, conditions: plain values, one list
per rule), then the alerts and notifications that follow from it (apply).

Every query is indexed or reads a small table, so a round stays cheap at a million
syncs: counts come from SyncCount; errors are read through the sync_status_error_at
and sync_status_pattern indexes, pending syncs through sync_status_next_retry."""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Min, Q
from django.template.loader import render_to_string
from django.urls import reverse
from redis import RedisError

from alerts.links import absolute
from alerts.models import Alert, Delivery, EvaluatorLease, Rule, SeenErrorPattern
from runtime.workers import alive_workers, redis_client
from synchronizations.engine.errors import DATABASE_FAILED
from synchronizations.models import (
    LogEntry,
    Mapping,
    Operation,
    Repository,
    SyncCount,
    Synchronization,
    SyncStatus,
)
from syncweb import zones

logger = logging.getLogger(__name__)

# New errors are looked for from a little before the last round's end, so that an
# error committed late (its error_at earlier than the commit) is not missed; a
# pattern already seen is never new again, so the overlap costs nothing.
OVERLAP = timedelta(minutes=1)


@dataclass(frozen=True)
class Condition:
    """One subject for which a rule's condition holds now: ``key`` names it within
    the rule ("mapping:3"); ``title`` says what is wrong and how much; ``detail`` the
    lines that explain it; ``value`` how much as a number; ``since`` when it began;
    ``link`` the path of the console view that shows it."""

    key: str
    title: str
    value: float
    since: datetime
    link: str
    detail: list[str] = field(default_factory=list)


@dataclass
class Observations:
    """What a round saw once, for all rules: the error kinds that are new since the
    last round (pattern -> its first error time), the workers alive (None: Redis did
    not answer, ``redis_error`` says why) and since when none has been seen."""

    now: datetime
    new_patterns: dict[str, datetime]
    errors_seen_until: datetime
    workers: dict[str, float] | None
    redis_error: str
    workers_seen_at: datetime
    baseline: bool = False


def observe(now: datetime, memory: EvaluatorLease) -> Observations:
    """The round's shared observations at ``now``, from what the last round
    remembered. The first round ever takes the error kinds present as known (a new
    installation is not told about every error it already has)."""
    errors = Synchronization.objects.filter(status=SyncStatus.ERROR).order_by()
    baseline = memory.errors_seen_until is None
    if baseline:
        present = {pattern: now for pattern in errors.values_list("error_pattern", flat=True).distinct()}
        new = {}
        SeenErrorPattern.objects.bulk_create(
            [SeenErrorPattern(pattern=p, first_seen_at=now) for p in present], ignore_conflicts=True
        )
    else:
        recent = (
            errors.filter(error_at__gte=memory.errors_seen_until - OVERLAP)
            .values("error_pattern")
            .annotate(first=Min("error_at"))
        )
        candidates = {row["error_pattern"]: row["first"] for row in recent}
        seen = set(SeenErrorPattern.objects.filter(pattern__in=candidates).values_list("pattern", flat=True))
        new = {pattern: first for pattern, first in candidates.items() if pattern not in seen}
    try:
        workers, redis_error = alive_workers(redis_client(timeout=1.0)), ""
    except RedisError as exc:
        workers, redis_error = None, f"Redis does not answer ({exc})"
    workers_seen_at = now if workers or memory.workers_seen_at is None else memory.workers_seen_at
    return Observations(now, new, now, workers, redis_error, workers_seen_at, baseline)


def count(n: int | float, word: str) -> str:
    """``n`` and ``word``, plural unless one: "1 minute", "2 minutes", "0 syncs"."""
    return f"{n:g} {word}" + ("" if n == 1 else "s")


def _minutes(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() // 60))


def _at(moment: datetime) -> str:
    return zones.text(moment)


def _syncs_link(**params) -> str:
    return f"{reverse('syncs')}?{urlencode(params)}"


def _new_error_kind(rule: Rule, obs: Observations) -> list[Condition]:
    """Each error kind first seen since the last round, and each earlier one whose
    alert still fires while some sync is in error with it."""
    firing = dict(Alert.objects.filter(rule=rule, state=Alert.State.FIRING).values_list("key", "started_at"))
    subjects = {f"pattern:{p}": first for p, first in obs.new_patterns.items()}
    subjects |= {key: started for key, started in firing.items() if key not in subjects}
    found = []
    for key, since in subjects.items():
        pattern = key.removeprefix("pattern:")
        in_error = Synchronization.objects.filter(status=SyncStatus.ERROR, error_pattern=pattern).count()
        if in_error:
            shown = pattern or "(no message)"
            found.append(
                Condition(
                    key=key,
                    title=f"New kind of error: {shown!r} ({count(in_error, 'sync')} in error)",
                    value=in_error,
                    since=since,
                    link=_syncs_link(status=SyncStatus.ERROR, pattern=pattern),
                    detail=[
                        f"{count(in_error, 'sync')} {'is' if in_error == 1 else 'are'} in error with it, "
                        f"first at {_at(since)}."
                    ],
                )
            )
    return found


def _mapping_errors(rule: Rule, obs: Observations) -> list[Condition]:
    """Mappings with at least N syncs that went into error within the window."""
    since = obs.now - rule.window
    rows = (
        Synchronization.objects.filter(status=SyncStatus.ERROR, error_at__gte=since)
        .order_by()
        .values("mapping_id")
        .annotate(n=Count("pk"), first=Min("error_at"))
        .filter(n__gte=rule.threshold)
    )
    rows = {row["mapping_id"]: row for row in rows}
    if not rows:
        return []
    names = dict(Mapping.objects.filter(pk__in=rows).values_list("pk", "name"))
    in_error = dict(
        SyncCount.objects.filter(mapping_id__in=rows, status=SyncStatus.ERROR).values_list("mapping_id", "n")
    )
    return [
        Condition(
            key=f"mapping:{pk}",
            title=f"Mapping {names.get(pk, pk)!r}: {count(row['n'], 'sync')} went into error in the last "
            f"{count(rule.window_minutes, 'minute')}",
            value=row["n"],
            since=row["first"],
            link=_syncs_link(status=SyncStatus.ERROR, mapping=pk),
            detail=[
                f"Threshold: {rule.threshold} within {count(rule.window_minutes, 'minute')}; "
                f"the first at {_at(row['first'])}.",
                f"Syncs of the mapping in error now: {in_error.get(pk, 0)}.",
            ],
        )
        for pk, row in sorted(rows.items())
    ]


def _repository_unhealthy(rule: Rule, obs: Observations) -> list[Condition]:
    """Enabled repositories unhealthy for more than the window, with the mappings
    they pause."""
    found = []
    sick = Repository.objects.filter(enabled=True, healthy=False, unhealthy_since__lte=obs.now - rule.window)
    for repository in sick:
        paused = list(
            Mapping.objects.filter(Q(left=repository) | Q(right=repository), enabled=True).values_list("pk", "name")
        )
        minutes = _minutes(obs.now - repository.unhealthy_since)
        paused_count = f"; {count(len(paused), 'mapping')} paused" if paused else ""
        link = reverse("mapping_detail", args=[paused[0][0]]) if len(paused) == 1 else reverse("mappings")
        admin_page = absolute(reverse("admin:synchronizations_repository_change", args=[repository.pk]))
        found.append(
            Condition(
                key=f"repository:{repository.pk}",
                title=f"Repository {repository.name!r} unhealthy for {count(minutes, 'minute')}{paused_count}",
                value=minutes,
                since=repository.unhealthy_since,
                link=link,
                detail=[
                    f"Why: {repository.unhealthy_reason}",
                    *(f"Paused: {name} {absolute(reverse('mapping_detail', args=[pk]))}" for pk, name in paused),
                    f"The repository in the admin: {admin_page}",
                ],
            )
        )
    return found


def _no_worker(rule: Rule, obs: Observations) -> list[Condition]:
    """No worker heartbeat (or no Redis to read them from) for more than the window."""
    if obs.workers:
        return []
    waited = obs.now - obs.workers_seen_at
    if waited < rule.window:
        return []
    pending = sum(SyncCount.objects.filter(status=SyncStatus.PENDING).values_list("n", flat=True))
    minutes = _minutes(waited)
    return [
        Condition(
            key="workers",
            title=f"No worker alive for {count(minutes, 'minute')}: nothing is being processed",
            value=minutes,
            since=obs.workers_seen_at,
            link=reverse("dashboard"),
            detail=[obs.redis_error or "No Celery worker has sent a heartbeat.", f"Pending syncs: {pending}."],
        )
    ]


def _backlog(rule: Rule, obs: Observations) -> list[Condition]:
    """The oldest pending sync due for processing, when it has waited more than the
    window: due since its retry time, or queued (no retry time) since it last changed."""
    cutoff = obs.now - rule.window
    pending = Synchronization.objects.filter(status=SyncStatus.PENDING).order_by()
    due = pending.filter(next_retry_at__lte=cutoff).order_by("next_retry_at").values_list("next_retry_at", flat=True)
    queued = pending.filter(next_retry_at__isnull=True, updated_at__lte=cutoff).aggregate(first=Min("updated_at"))
    waiting = [moment for moment in (due.first(), queued["first"]) if moment is not None]
    if not waiting:
        return []
    oldest = min(waiting)
    minutes = _minutes(obs.now - oldest)
    total = sum(SyncCount.objects.filter(status=SyncStatus.PENDING).values_list("n", flat=True))
    return [
        Condition(
            key="backlog",
            title=f"Backlog: the oldest pending sync has waited {count(minutes, 'minute')} ({total} pending)",
            value=minutes,
            since=oldest,
            link=_syncs_link(status=SyncStatus.PENDING),
            detail=[f"Waiting since {_at(oldest)}; threshold {count(rule.window_minutes, 'minute')}."],
        )
    ]


def _who(operation: Operation) -> str:
    return operation.requested_by.get_username() if operation.requested_by else operation.get_source_display()


def _operation_failed(rule: Rule, obs: Observations) -> list[Condition]:
    """At least N operations failed within the window."""
    failed = list(
        Operation.objects.filter(state=Operation.State.FAILED, finished_at__gte=obs.now - rule.window)
        .select_related("requested_by")
        .defer("sync_ids")
        .order_by("-finished_at")
    )
    if len(failed) < rule.threshold:
        return []
    latest = failed[0]
    lines = [
        f"{op.get_action_display()} #{op.pk} by {_who(op)} at {_at(op.finished_at)}: {op.error[:300]} "
        f"{absolute(op.get_absolute_url())}"
        for op in failed[:5]
    ]
    return [
        Condition(
            key="operations",
            title=f"{count(len(failed), 'operation')} failed in the last "
            f"{count(rule.window_minutes, 'minute')} (latest: {latest.get_action_display()} #{latest.pk})",
            value=len(failed),
            since=failed[-1].finished_at,
            link=latest.get_absolute_url(),
            detail=lines,
        )
    ]


CONDITIONS = {
    Rule.Kind.NEW_ERROR_KIND: _new_error_kind,
    Rule.Kind.MAPPING_ERRORS: _mapping_errors,
    Rule.Kind.REPOSITORY_UNHEALTHY: _repository_unhealthy,
    Rule.Kind.NO_WORKER: _no_worker,
    Rule.Kind.BACKLOG: _backlog,
    Rule.Kind.OPERATION_FAILED: _operation_failed,
}

# What a "resolved" notification says cleared, per kind.
CLEARED = {
    Rule.Kind.NEW_ERROR_KIND: "no sync is in error with this kind of error any more",
    Rule.Kind.MAPPING_ERRORS: "fewer errors than the threshold within the window",
    Rule.Kind.REPOSITORY_UNHEALTHY: "the repository answers again (or was disabled); its mappings resume",
    Rule.Kind.NO_WORKER: "a worker is alive again",
    Rule.Kind.BACKLOG: "no pending sync has waited longer than the threshold",
    Rule.Kind.OPERATION_FAILED: "no more failed operations than the threshold within the window",
}


def conditions(rule: Rule, obs: Observations) -> list[Condition]:
    """Where ``rule``'s condition holds now (a plan: nothing is written). Raises
    KeyError for a kind this module does not know."""
    return CONDITIONS[rule.kind](rule, obs)


@dataclass
class Applied:
    """What apply() did: alerts fired, repeated, resolved; deliveries queued."""

    fired: int = 0
    repeated: int = 0
    resolved: int = 0
    deliveries: int = 0


def _queue(alert: Alert, kind: str, channels: list, now: datetime) -> int:
    """One pending delivery of ``alert`` to each of ``channels``, its text rendered now."""
    label = Delivery.Kind(kind).label.upper()
    title = f"[syncweb] {label}: {alert.title}"[:500]
    body = render_to_string(
        "alerts/notification.txt",
        {"alert": alert, "kind": kind, "link": absolute(alert.link) if alert.link else "", "now": now},
    )
    Delivery.objects.bulk_create(
        [
            Delivery(
                alert=alert,
                channel=channel,
                channel_name=channel.name,
                kind=kind,
                title=title,
                body=body,
                created_at=now,
                next_attempt_at=now,
            )
            for channel in channels
        ]
    )
    return len(channels)


def apply(rule: Rule, found: list[Condition], now: datetime) -> Applied:
    """Brings ``rule``'s alerts in line with ``found``: a new subject fires (and is
    notified), one still firing is updated (and notified again once the repeat
    interval has passed), one no longer found is resolved (and notified). A disabled
    rule's alerts are resolved without notification. One transaction."""
    done = Applied()
    with transaction.atomic():
        open_alerts = {
            alert.key: alert for alert in Alert.objects.select_for_update().filter(rule=rule, state="firing")
        }
        channels = list(rule.channels.filter(enabled=True)) if rule.enabled else []
        for condition in found if rule.enabled else []:
            alert = open_alerts.pop(condition.key, None)
            text = {
                "title": condition.title[:500],
                "detail": "\n".join(condition.detail),
                "value": condition.value,
                "link": condition.link,
            }
            if alert is None:
                alert = Alert.objects.create(
                    rule=rule,
                    rule_name=rule.name,
                    key=condition.key[:400],
                    started_at=condition.since,
                    fired_at=now,
                    last_notified_at=now,
                    notifications=1,
                    **text,
                )
                done.fired += 1
                done.deliveries += _queue(alert, Delivery.Kind.FIRING, channels, now)
                continue
            for name, value in text.items():
                setattr(alert, name, value)
            if rule.repeat is not None and alert.last_notified_at + rule.repeat <= now:
                alert.last_notified_at = now
                alert.notifications += 1
                done.repeated += 1
                done.deliveries += _queue(alert, Delivery.Kind.REPEAT, channels, now)
            alert.save(update_fields=[*text, "last_notified_at", "notifications"])
        for alert in open_alerts.values():
            alert.state = Alert.State.RESOLVED
            alert.resolved_at = now
            alert.resolution = CLEARED[rule.kind] if rule.enabled else "the rule was disabled"
            alert.save(update_fields=["state", "resolved_at", "resolution"])
            done.resolved += 1
            if rule.enabled:
                done.deliveries += _queue(alert, Delivery.Kind.RESOLVED, channels, now)
    return done


def _why(exc: Exception) -> str:
    """What went wrong with a rule, in one line an admin can act on."""
    if isinstance(exc, ValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        said = "; ".join(
            f"{name.replace('_', ' ')}: {' '.join(m)}" if name else " ".join(m) for name, m in fields.items()
        )
        return f"Out of bounds ({said}); correct the rule in the admin."
    return f"{type(exc).__name__}: {exc}"[:1000]


def _failed(rule: Rule, exc: Exception, now: datetime) -> None:
    """Records that ``rule`` could not be evaluated: on the rule (the Dashboard's card
    and the history page show it), in the Python log, and once per distinct error on
    the Logs tab (not every round)."""
    why = _why(exc)
    new = why != rule.error
    logger.error("alert rule %r (pk %s) could not be evaluated: %s", rule.name, rule.pk, why, exc_info=new)
    if new:
        Rule.objects.filter(pk=rule.pk).update(error=why, error_since=rule.error_since or now)
        LogEntry.objects.create(
            level=LogEntry.Level.ERROR,
            message=f"Alert rule '{rule.name}' could not be evaluated; its alerts are not updated until it is "
            f"fixed: {why}",
            timestamp=now,
        )


def evaluate(now: datetime, memory: EvaluatorLease) -> tuple[Applied, Observations]:
    """One evaluation of every rule at ``now``: observe, then each rule's conditions
    and their application; the new error kinds are recorded as seen at the end.
    A rule that fails (a number out of bounds, a bug) is recorded as failing
    (_failed) and the others are evaluated all the same. Returns what was applied
    (summed) and the observations (what the next round remembers)."""
    obs = observe(now, memory)
    total = Applied()
    for rule in Rule.objects.order_by("pk"):
        try:
            with transaction.atomic():
                if rule.enabled:
                    rule.check_numbers()
                found = conditions(rule, obs) if rule.enabled else []
                done = apply(rule, found, now)
        except DATABASE_FAILED:
            raise  # our database, not the rule: the next round evaluates it again
        except Exception as exc:  # one broken rule must not stop the others
            _failed(rule, exc, now)
            continue
        if rule.error:
            Rule.objects.filter(pk=rule.pk).update(error="", error_since=None)
            logger.info("alert rule %r (pk %s) is evaluated again", rule.name, rule.pk)
            LogEntry.objects.create(
                level=LogEntry.Level.INFO, message=f"Alert rule '{rule.name}' is evaluated again.", timestamp=now
            )
        for name in ("fired", "repeated", "resolved", "deliveries"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
    SeenErrorPattern.objects.bulk_create(
        [SeenErrorPattern(pattern=p, first_seen_at=now) for p in obs.new_patterns], ignore_conflicts=True
    )
    return total, obs
