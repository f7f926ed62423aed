"""The Dashboard's numbers against a known data set, and its behaviour when Redis
or the workers are gone."""

import time
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core.cache import cache
from django.utils import timezone
from pytest_django.asserts import assertContains

from metrics import rollup
from metrics.models import SyncEvent
from runtime.workers import record_heartbeat, redis_client
from synchronizations import operations
from synchronizations.models import Mapping, Operation, SyncCount, Synchronization, SyncStatus, error_pattern
from syncweb import dashboard
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def data(operator):
    web, mobile = factories.mapping("Web ↔ QA"), factories.mapping("Mobile ↔ GitHub")
    now = timezone.now()
    factories.sync(web, "WEB-1")
    factories.sync(web, "WEB-2")
    factories.sync(web, "WEB-3", SyncStatus.PENDING)
    factories.sync(web, "WEB-4", SyncStatus.ERROR, error_message="Connection to QA timed out after 30 s (5 attempts)")
    factories.sync(web, "WEB-5", SyncStatus.ERROR, error_message="Connection to QA timed out after 31 s (5 attempts)")
    factories.sync(mobile, "MOB-1", SyncStatus.ERROR, error_message="MOB-1 does not exist in 'GitHub' (deleted?)",
                   error_at=now - timedelta(days=2))  # fmt: skip
    factories.sync(mobile, "MOB-2", SyncStatus.IGNORED)
    for minutes, kind in [(5, "created"), (30, "updated"), (90, "updated"), (60 * 30, "updated")]:
        rollup.record(mapping_id=web.pk, kind=kind, sync_id=None, when=now - timedelta(minutes=minutes))
    Mapping.objects.filter(pk=mobile.pk).update(last_detection_error="Connection to 'GitHub' refused")
    operations.perform("retry", [factories.sync(mobile, "MOB-3").pk], user=operator)
    return {"web": web, "mobile": mobile}


def test_every_number_against_a_known_data_set(data, django_assert_num_queries):
    now = timezone.now()
    with django_assert_num_queries(1):
        counts = SyncCount.objects.by_status()
    assert counts == {"ok": 2, "pending": 2, "error": 3, "ignored": 1}
    with django_assert_num_queries(1):
        assert Synchronization.objects.errors_since(now - timedelta(hours=24)) == 2  # MOB-1's is two days old
    with django_assert_num_queries(1):
        assert SyncEvent.objects.throughput(now) == {"hour": 2, "day": 3}
    with django_assert_num_queries(1):
        assert Synchronization.objects.top_error_patterns() == [
            {"pattern": "Connection to QA timed out after <n> s (<n> attempts)", "count": 2},
            {"pattern": "<key> does not exist in 'GitHub' (deleted?)", "count": 1},
        ]
    with django_assert_num_queries(1):
        assert [s.left_key for s in Synchronization.objects.latest_errors()] == ["WEB-5", "WEB-4", "MOB-1"]
    with django_assert_num_queries(1):
        assert [(o.action, o.total, o.requested_by.username) for o in Operation.objects.latest()] == [
            ("retry", 1, "operator")
        ]
    with django_assert_num_queries(2):
        assert Mapping.objects.in_trouble() == [
            {"pk": data["web"].pk, "name": "Web ↔ QA", "errors": 2, "detection_error": "", "paused": ""},
            {"pk": data["mobile"].pk, "name": "Mobile ↔ GitHub", "errors": 1,
             "detection_error": "Connection to 'GitHub' refused", "paused": ""},
        ]  # fmt: skip


def test_the_summary_puts_the_pending_count_beside_the_broker(data, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    summary = dashboard.summary(timezone.now())
    assert summary["queue"]["pending"] == 2
    assert summary["queue"]["workers"] is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("WEB-12 timed out after 30 s", "ENG-7 timed out after 31 s"),
        ("HTTP 404 from GitHub: #1234 was deleted", "HTTP 404 from GitHub: #99 was deleted"),
        ("Attempt 2 of 5 failed", "Attempt 3 of 5 failed"),
    ],
)
def test_messages_differing_only_in_keys_or_numbers_are_one_kind(first, second):
    assert error_pattern(first) == error_pattern(second)


def test_messages_differing_in_a_value_are_two_kinds():
    assert error_pattern("Field 'priority' value 'Blocker'") != error_pattern("Field 'priority' value 'Low'")


def test_the_page_links_counts_and_error_kinds_to_the_syncs(client_as, viewer, data):
    response = client_as(viewer).get("/sync/")
    assertContains(response, 'href="/sync/syncs/?status=error"')
    pattern = "Connection to QA timed out after <n> s (<n> attempts)"
    assertContains(response, f'<a href="/sync/syncs/?status=error&pattern={quote(pattern)}">')
    following = client_as(viewer).get(
        "/sync/syncs/", {"status": "error", "pattern": "Connection to QA timed out after <n> s (<n> attempts)"}
    )
    assert sorted(row.record.left_key for row in following.context["table"].paginated_rows) == ["WEB-4", "WEB-5"]


def test_with_redis_down_the_page_renders_at_once_and_says_so(client_as, viewer, data, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    response = client_as(viewer).get("/sync/")
    assert time.monotonic() - started < 1
    assertContains(response, "Redis does not answer")
    assertContains(response, '<dd class="col-5" data-testid="workers">unknown</dd>', html=True)
    assertContains(response, '<dd class="col-5" data-testid="pending">2</dd>', html=True)


def test_with_no_worker_the_page_says_nothing_is_processed(client_as, viewer, data, redis_server):
    redis_client().flushall()
    response = client_as(viewer).get("/sync/")
    assertContains(response, "No worker has sent a heartbeat")
    assertContains(response, '<dd class="col-5" data-testid="waiting">0</dd>', html=True)


def test_live_workers_are_listed(client_as, viewer, data, redis_server):
    redis_client().flushall()
    record_heartbeat("celery@w1")
    response = client_as(viewer).get("/sync/")
    assertContains(response, "celery@w1")
    assertContains(response, '<dd class="col-5" data-testid="workers">1</dd>', html=True)


def test_the_self_refresh_gets_the_body_alone_with_a_pinned_number_of_queries(
    client_as, viewer, data, settings, django_assert_max_num_queries
):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    client = client_as(viewer)
    # session, user, 2 for permissions; status counts (pending among them), errors in
    # 24 h, throughput, error kinds, latest errors, latest operations, mappings in trouble (2),
    # the alerts firing and the rules that cannot be evaluated (the Alerts card)
    with django_assert_max_num_queries(14):
        response = client.get("/sync/", headers={"HX-Request": "true"})
    assertContains(response, 'id="dashboard-body"')
    assert b"<header" not in response.content
