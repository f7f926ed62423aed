"""Repository health: an authentication or permission failure is the repository's
problem, not a sync's. The repository is marked unhealthy, its mappings pause (their
syncs wait, pending; detection skips them), and a periodic check tries it again;
once a call succeeds it is healthy, and its mappings resume by themselves.

Also "Test connection": reachability, credentials, and that each mapping's scope and
named fields exist, in words an administrator can act on."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from synchronizations.connectors import connector_for
from synchronizations.engine import fieldmap, wording
from synchronizations.engine.errors import DATABASE_FAILED, RepositoryError, SyncError, TransientError
from synchronizations.engine.fieldmap import LEFT, RIGHT
from synchronizations.models import LogEntry, Mapping, Repository, Synchronization


def repository_refused(mapping: Mapping, exc: RepositoryError) -> None:
    """The repository named by ``exc`` (or, when it names none, both repositories of
    ``mapping``) refused us: unhealthy, and its mappings are told they are paused."""
    ids = [exc.repository_id] if exc.repository_id else [mapping.left_id, mapping.right_id]
    now = timezone.now()
    turned = Repository.objects.filter(pk__in=ids).record_failure(exc.message, now, unhealthy=True)
    for repository in Repository.objects.filter(pk__in=turned):
        _log_on_mappings(repository, wording.repository_unhealthy(repository.name, exc.message), LogEntry.Level.ERROR)


def call_failed(exc: SyncError, now: datetime) -> None:
    """A call to a tracker failed in a way that is not the credentials' (unreachable,
    a timeout, a 5xx): the repository named by ``exc`` records it as its last failed
    call, and stays healthy."""
    if exc.repository_id:
        Repository.objects.filter(pk=exc.repository_id).record_failure(exc.message, now, unhealthy=False)


def record_success(repository_ids: list[int], now: datetime | None = None) -> list[int]:
    """Calls to these repositories succeeded: healthy; those that were not resume.
    Returns the ids that recovered."""
    now = now or timezone.now()
    recovered = Repository.objects.filter(pk__in=repository_ids).record_success(now)
    if recovered:
        resume(recovered, now)
    return recovered


def resume(repository_ids: list[int], now: datetime) -> int:
    """The mappings of these (now healthy) repositories resume: their pending syncs
    are made due, so the next round queues them. Returns how many syncs."""
    for repository in Repository.objects.filter(pk__in=repository_ids):
        _log_on_mappings(repository, wording.repository_recovered(repository.name), LogEntry.Level.INFO)
    mappings = Mapping.objects.filter(Q(left__in=repository_ids) | Q(right__in=repository_ids))
    waiting = Synchronization.objects.filter(mapping__in=mappings, next_retry_at__isnull=True)
    return len(waiting.make_due(now))


def _log_on_mappings(repository: Repository, message: str, level: str) -> None:
    mappings = Mapping.objects.filter(Q(left=repository) | Q(right=repository))
    LogEntry.objects.bulk_create(LogEntry(level=level, message=message, mapping=mapping) for mapping in mappings)


def check_unhealthy(now: datetime | None = None) -> list[int]:
    """The periodic check: each enabled unhealthy repository not tried within
    SYNCWEB_HEALTH_CHECK_INTERVAL is called once (ping); those that answer recover
    and their mappings resume. Returns the ids that recovered."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.SYNCWEB_HEALTH_CHECK_INTERVAL)
    recovered = []
    for repository in Repository.objects.due_for_health_check(now, interval):
        Repository.objects.filter(pk=repository.pk).update(health_checked_at=now)
        try:
            connector_for(repository).ping()
        except RepositoryError as exc:
            Repository.objects.filter(pk=repository.pk).record_failure(exc.message, now, unhealthy=True)
        except SyncError as exc:  # unreachable: still unknown whether the credentials work
            Repository.objects.filter(pk=repository.pk).record_failure(exc.message, now, unhealthy=False)
        else:
            recovered += record_success([repository.pk], now)
    return recovered


@dataclass
class CheckReport:
    """What Test connection found for one repository: whether it answered, whether
    it accepted our credentials, and every problem in words (empty: all is well)."""

    repository: Repository
    reachable: bool = False
    authenticated: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and self.authenticated and not self.problems


def check_repository(repository: Repository) -> CheckReport:
    """Test connection: calls the tracker, then checks, for every mapping that uses
    the repository, that its scope and each field its field map names exist there.
    Records the outcome in the repository's health (a success makes it healthy and
    resumes its mappings). Never raises for what the tracker does."""
    report = CheckReport(repository)
    now = timezone.now()
    try:
        connector = connector_for(repository)
        connector.ping()
    except TransientError as exc:
        report.problems.append(
            f"The tracker did not answer as it should (unreachable, timed out, or failing): {exc.message}"
        )
        Repository.objects.filter(pk=repository.pk).record_failure(exc.message, now, unhealthy=False)
        return report
    except RepositoryError as exc:
        report.reachable = True
        report.problems.append(f"The credentials are refused: {exc.message}")
        Repository.objects.filter(pk=repository.pk).record_failure(exc.message, now, unhealthy=True)
        return report
    except SyncError as exc:
        report.problems.append(exc.message)
        return report
    except DATABASE_FAILED:
        raise  # our database, not the tracker (the sandbox lives in it)
    except Exception as exc:  # a tracker answering what no connector expects (an HTML page, broken JSON)
        report.problems.append(f"The tracker answered something unexpected: {exc!r}"[:500])
        return report
    report.reachable = report.authenticated = True
    record_success([repository.pk], now)
    for mapping in Mapping.objects.filter(Q(left=repository) | Q(right=repository)).order_by("name"):
        for side in (LEFT, RIGHT):
            if getattr(mapping, f"{side}_id") != repository.pk:
                continue
            scope = getattr(mapping, f"{side}_scope")
            try:
                found = connector.check(scope, fieldmap.relevant_fields(mapping.field_map, side))
            except SyncError as exc:
                found = [exc.message]
            except DATABASE_FAILED:
                raise
            except Exception as exc:  # as above
                found = [f"the tracker answered something unexpected: {exc!r}"[:500]]
            report.problems += [f"Mapping '{mapping.name}' ({side} side, scope {scope!r}): {p}" for p in found]
    return report
