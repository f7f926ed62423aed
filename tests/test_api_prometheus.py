"""/sync/api/metrics: Prometheus' text format, the counts the pages read, for a
token, a session or an allowed address only; and the processing tally the
workers add to."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from metrics import processing
from metrics.models import ProcessingTotal
from synchronizations import operations
from synchronizations.engine import process
from synchronizations.models import Repository, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db
URL = "/sync/api/metrics"


@pytest.fixture
def data(operator):
    web = factories.mapping("Web ↔ QA")
    made = [factories.sync(web, "WEB-1"), factories.sync(web, "WEB-2", SyncStatus.ERROR)]
    factories.sync(web, "WEB-3", SyncStatus.ERROR, error_at=timezone.now() - timedelta(days=2))
    operations.perform("retry", [made[0].pk], user=operator)
    Repository.objects.filter(name="Web ↔ QA left").record_failure("401 Unauthorized", timezone.now(), unhealthy=True)
    return web


def samples(response) -> dict[tuple, float]:
    """{(sample name, sorted label items): value} of an exposition."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_the_counts_the_pages_read(api_as, data, django_assert_max_num_queries):
    client = api_as("viewer")  # sets Redis unreachable
    with django_assert_max_num_queries(12):
        found = samples(client.get(URL))
    assert found[("syncweb_syncs", (("mapping", "Web ↔ QA"), ("status", "error")))] == 2
    assert found[("syncweb_syncs", (("mapping", "Web ↔ QA"), ("status", "ignored")))] == 0
    assert found[("syncweb_sync_errors_last_24h", ())] == 1
    assert found[("syncweb_broker_up", ())] == 0
    assert ("syncweb_jobs_waiting", ()) not in found  # unknown while Redis is down, not 0
    assert found[("syncweb_operations", (("action", "retry"), ("state", "finished")))] == 1
    assert found[("syncweb_repository_healthy", (("kind", "sandbox"), ("repository", "Web ↔ QA left")))] == 0
    assert found[("syncweb_repository_healthy", (("kind", "sandbox"), ("repository", "Web ↔ QA right")))] == 1
    left = (("kind", "sandbox"), ("repository", "Web ↔ QA left"))
    assert found[("syncweb_repository_last_failure_timestamp_seconds", left)] > 0


def test_jobs_waiting_and_workers_alive_from_the_broker(api_as, data, redis_server, settings):
    client = api_as("viewer")
    settings.REDIS_URL = redis_server
    cache.clear()
    from runtime.workers import record_heartbeat, redis_client

    redis = redis_client()
    redis.flushall()
    redis.rpush("celery", "a", "b")
    record_heartbeat("celery@box", redis)
    found = samples(client.get(URL))
    assert (found[("syncweb_broker_up", ())], found[("syncweb_jobs_waiting", ())]) == (1, 2)
    assert found[("syncweb_workers_alive", ())] == 1
    redis.flushall()


def test_syncs_processed_by_outcome_with_a_histogram_of_their_time(api_as, data):
    sync = factories.sync(factories.mapping("Ops ↔ Dev"), "OPS-9", SyncStatus.PENDING)
    process.process_batch([sync.pk, sync.pk], "job-1")  # the sandbox has no OPS-9: an error, then nothing to claim
    tally = processing.Tally()
    tally.add("ok", 0.003)
    tally.add("ok", 0.2)
    tally.add("ok", 100.0)
    tally.save()
    found = samples(api_as("viewer").get(URL))
    assert found[("syncweb_syncs_processed_total", (("outcome", "error"),))] == 1
    assert found[("syncweb_syncs_processed_total", (("outcome", "skipped"),))] == 1
    ok = (("outcome", "ok"),)
    assert found[("syncweb_syncs_processed_total", ok)] == 3
    assert found[("syncweb_sync_processing_seconds_bucket", (("le", "0.005"), ("outcome", "ok")))] == 1
    assert found[("syncweb_sync_processing_seconds_bucket", (("le", "0.25"), ("outcome", "ok")))] == 2
    assert found[("syncweb_sync_processing_seconds_bucket", (("le", "60.0"), ("outcome", "ok")))] == 2
    assert found[("syncweb_sync_processing_seconds_bucket", (("le", "+Inf"), ("outcome", "ok")))] == 3
    assert found[("syncweb_sync_processing_seconds_count", ok)] == 3
    assert found[("syncweb_sync_processing_seconds_sum", ok)] == pytest.approx(100.203)


def test_a_tally_adds_to_what_other_jobs_recorded():
    for _ in range(2):
        with processing.Tally() as tally:
            tally.add("ok", 0.01)
    assert ProcessingTotal.objects.get(outcome="ok", bucket=processing.bucket_of(0.01)).count == 2


def test_no_token_is_a_401_problem(client, data):
    response = client.get(URL)
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'Bearer realm="syncweb"'


def test_a_revoked_token_is_a_401(api_as, data):
    from api.models import ApiToken

    client = api_as("viewer")
    ApiToken.objects.revoke(timezone.now())
    assert "revoked" in client.get(URL).json()["detail"]


def test_a_token_without_role_is_a_403(api_as, data):
    assert api_as(None).get(URL).status_code == 403


def test_an_allowed_address_needs_no_token(client, data, settings):
    settings.SYNCWEB_PROMETHEUS_ALLOW = ["10.0.0.0/8"]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache.clear()
    assert client.get(URL, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get(URL, REMOTE_ADDR="192.0.2.1").status_code == 401


def test_a_signed_in_viewer_may_read_it(client_as, viewer, data, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache.clear()
    assert client_as(viewer).get(URL).status_code == 200


def test_it_refuses_a_post(api_as, data):
    assert api_as("viewer").post(URL).status_code == 405


@pytest.mark.parametrize("method", ["post", "delete", "put", "patch"])
def test_another_method_is_a_405_problem_not_a_csrf_page(client_as, viewer, method):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(viewer)
    for client in (browser, Client()):
        response = getattr(client, method)(URL)
        assert response.status_code == 405 and response["Content-Type"] == "application/problem+json"
        assert response["Allow"] == "GET, HEAD" and response.json()["code"] == "method_not_allowed"
