"""/sync/api/metrics: the numbers a monitoring system scrapes, in Prometheus'
text format (prometheus-client). A custom collector reads, at each scrape, the
counts the console's pages read (SyncCount, the broker probe, the repositories'
health, ProcessingTotal), so a scrape costs a few indexed queries at a million
syncs and nothing is kept in the web process.

Who may scrape: a client whose address is in SYNCWEB_PROMETHEUS_ALLOW, or a
request with an API token (``Authorization: Bearer``) or a session of a user
with a role."""

import ipaddress
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from rest_framework.exceptions import AuthenticationFailed

from accounts.client_address import client_address
from accounts.roles import VIEW_PERMISSION
from api.authentication import BearerTokenAuthentication
from api.problems import problem_response
from metrics.models import ProcessingTotal
from metrics.processing import BUCKETS
from runtime import broker
from synchronizations.models import Mapping, Operation, Repository, SyncCount, Synchronization, SyncStatus


def _timestamp(moment) -> float:
    return moment.timestamp() if moment else 0.0


class SyncwebCollector(Collector):
    """Every syncweb metric, read when collected. Eight queries and one (cached)
    look at Redis."""

    def collect(self):
        """The metric families: syncs per mapping and status, errors of the last 24
        hours, the broker's waiting jobs and live workers, operations by action and
        state, repository health, and syncs processed by outcome with their
        processing time."""
        now = timezone.now()
        yield self._syncs()
        yield GaugeMetricFamily(
            "syncweb_sync_errors_last_24h",
            "Syncs in error whose error came in the last 24 hours (the Dashboard's figure).",
            value=Synchronization.objects.errors_since(now - timedelta(hours=24)),
        )
        yield from self._broker()
        operations = GaugeMetricFamily(
            "syncweb_operations", "Operator actions (operations) by action and state.", labels=["action", "state"]
        )
        for action, state, n in Operation.objects.order_by().values_list("action", "state").annotate(n=Count("pk")):
            operations.add_metric([action, state], n)
        yield operations
        yield from self._repositories()
        yield from self._processing()

    def _syncs(self) -> GaugeMetricFamily:
        family = GaugeMetricFamily(
            "syncweb_syncs", "Syncs per mapping and status (kept exact by the database).", labels=["mapping", "status"]
        )
        counts = SyncCount.objects.by_mapping()
        for mapping_id, name in Mapping.objects.order_by("name").values_list("pk", "name"):
            for status in SyncStatus.values:
                family.add_metric([name, status], counts.get(mapping_id, {}).get(status, 0))
        return family

    def _broker(self):
        state = broker.queue_and_workers()
        up = state["waiting"] is not None
        yield GaugeMetricFamily("syncweb_broker_up", "1 when Redis (the job queue) answers, else 0.", value=int(up))
        if up:
            yield GaugeMetricFamily("syncweb_jobs_waiting", "Jobs waiting in the queue.", value=state["waiting"])
            yield GaugeMetricFamily(
                "syncweb_workers_alive", "Workers whose heartbeat is fresh.", value=len(state["workers"] or {})
            )

    def _repositories(self):
        labels = ["repository", "kind"]
        healthy = GaugeMetricFamily(
            "syncweb_repository_healthy",
            "1 while the repository accepts our calls; 0 pauses its mappings.",
            labels=labels,
        )
        success = GaugeMetricFamily(
            "syncweb_repository_last_success_timestamp_seconds", "When a call last succeeded (0: never).", labels=labels
        )
        failure = GaugeMetricFamily(
            "syncweb_repository_last_failure_timestamp_seconds", "When a call last failed (0: never).", labels=labels
        )
        rows = Repository.objects.values_list("name", "kind", "healthy", "last_success_at", "last_failure_at")
        for name, kind, is_healthy, last_success, last_failure in rows:
            healthy.add_metric([name, kind], int(is_healthy))
            success.add_metric([name, kind], _timestamp(last_success))
            failure.add_metric([name, kind], _timestamp(last_failure))
        yield from (healthy, success, failure)

    def _processing(self):
        processed = CounterMetricFamily(
            "syncweb_syncs_processed",
            "Syncs processed by the workers, by outcome (the status it ended in).",
            labels=["outcome"],
        )
        seconds = HistogramMetricFamily(
            "syncweb_sync_processing_seconds", "How long processing one sync took, by outcome.", labels=["outcome"]
        )
        cells: dict[str, dict[int, tuple[int, float]]] = {}
        for outcome, bucket, count, total in ProcessingTotal.objects.values_list(
            "outcome", "bucket", "count", "seconds"
        ):
            cells.setdefault(outcome, {})[bucket] = (count, total)
        for outcome, buckets in sorted(cells.items()):
            running, cumulative = 0, []
            for index, bound in enumerate((*BUCKETS, float("inf"))):
                running += buckets.get(index, (0, 0.0))[0]
                cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
            processed.add_metric([outcome], running)
            seconds.add_metric([outcome], cumulative, sum_value=sum(total for _, total in buckets.values()))
        yield from (processed, seconds)


def allowed_address(request: HttpRequest, allowed: list[str]) -> bool:
    """Whether the client (accounts.client_address, behind a trusted proxy too) is
    in one of the ``allowed`` addresses or networks."""
    try:
        address = ipaddress.ip_address(client_address(request))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)


def _refused(request: HttpRequest, status: int, detail: str, code: str) -> JsonResponse:
    response = problem_response(request, status, detail, code=code)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="syncweb"'
    return response


@login_not_required
@never_cache
@csrf_exempt  # GET only: nothing to forge; any other method is a 405 problem, not a CSRF page
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus exposition; 401 / 403 problems for a client that may not
    read it, a 405 problem for a method other than GET or HEAD."""
    if request.method not in ("GET", "HEAD"):
        response = _refused(request, 405, f'Method "{request.method}" not allowed: GET only.', "method_not_allowed")
        response["Allow"] = "GET, HEAD"
        return response
    if not allowed_address(request, settings.SYNCWEB_PROMETHEUS_ALLOW):
        user = request.user
        try:
            authenticated = BearerTokenAuthentication().authenticate(request)
        except AuthenticationFailed as exc:
            return _refused(request, 401, str(exc.detail), "authentication_failed")
        if authenticated is not None:
            user = authenticated[0]
        if not user.is_authenticated:
            return _refused(
                request, 401, "Send an API token (Authorization: Bearer ...) or scrape from an allowed address.",
                "not_authenticated",
            )  # fmt: skip
        if not user.has_perm(VIEW_PERMISSION):
            return _refused(request, 403, "The token's user has no role.", "permission_denied")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SyncwebCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
