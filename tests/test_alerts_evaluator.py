"""The evaluator, rule kind by rule kind (fire once, repeat after the interval,
resolve once), and the lease that lets one round run at a time."""

from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from alerts import evaluator, lease, rounds
from alerts.models import Alert, Channel, Delivery, Rule, SeenErrorPattern
from alerts.rules import DEFAULT_RULES, create_defaults
from runtime.workers import record_heartbeat, redis_client
from synchronizations.models import LogEntry, Operation, Repository, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_default_rules():
    """Each test makes the one rule it tests; Redis is unreachable unless a test starts it."""
    Rule.objects.all().delete()


@pytest.fixture
def no_redis(settings):
    """No Redis answers: no worker can be seen alive."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
def hook():
    made = Channel(name="Hook")
    made.set_url("json://127.0.0.1:1/never-sent")
    made.save()
    return made


def rule(kind, channel=None, **fields) -> Rule:
    made = Rule.objects.create(name=kind, kind=kind, **fields)
    if channel is not None:
        made.channels.add(channel)
    return made


def evaluate(now):
    """One evaluation with what the last one remembered (as a round does), no sending."""
    memory = lease.state()
    applied, obs = evaluator.evaluate(now, memory)
    memory.errors_seen_until, memory.workers_seen_at = obs.errors_seen_until, obs.workers_seen_at
    memory.save()
    return applied


def deliveries(kind=None):
    found = Delivery.objects.all()
    return list(found.filter(kind=kind) if kind else found)


def test_a_new_kind_of_error_fires_once_and_resolves_when_no_sync_has_it(hook):
    now = timezone.now()
    mapping = factories.mapping()
    factories.sync(mapping, "OLD-1", SyncStatus.ERROR, error_message="Old trouble")
    rule(Rule.Kind.NEW_ERROR_KIND, hook, repeat_minutes=0)
    evaluate(now)  # the first round takes what exists as known
    assert not Alert.objects.exists()
    assert SeenErrorPattern.objects.filter(pattern="Old trouble").exists()
    new = factories.sync(mapping, "WEB-7", SyncStatus.ERROR, error_message="WEB-7 timed out after 30 s")
    evaluate(now + timedelta(seconds=30))
    [alert] = Alert.objects.all()
    assert alert.key == "pattern:<key> timed out after <n> s"
    assert "New kind of error" in alert.title and "(1 sync in error)" in alert.title
    assert alert.link == "/sync/syncs/?status=error&pattern=%3Ckey%3E+timed+out+after+%3Cn%3E+s"
    [firing] = deliveries(Delivery.Kind.FIRING)
    assert "See it: http://localhost:8080/sync/syncs/?status=error&pattern=" in firing.body
    evaluate(now + timedelta(seconds=60))
    evaluate(now + timedelta(hours=3))
    assert len(deliveries()) == 1, "repeat 0: told once"
    Synchronization.objects.filter(pk=new.pk).clear(now)
    evaluate(now + timedelta(hours=3, seconds=30))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
    [resolved] = deliveries(Delivery.Kind.RESOLVED)
    assert resolved.title.startswith("[syncweb] RESOLVED: New kind of error")
    factories.sync(mapping, "WEB-8", SyncStatus.ERROR, error_message="WEB-8 timed out after 31 s")
    evaluate(now + timedelta(hours=4))
    assert Alert.objects.count() == 1, "a kind seen before is never new again"


def test_errors_in_a_mapping_fire_at_n_within_m_minutes_repeat_and_resolve(hook):
    now = timezone.now()
    mapping = factories.mapping("Web ↔ QA")
    other = factories.mapping("Other")
    rule(Rule.Kind.MAPPING_ERRORS, hook, threshold=3, window_minutes=10, repeat_minutes=30)
    for n in range(2):
        factories.sync(mapping, f"A-{n}", SyncStatus.ERROR, error_at=now - timedelta(minutes=2))
    factories.sync(mapping, "A-9", SyncStatus.ERROR, error_at=now - timedelta(minutes=11))  # outside the window
    factories.sync(other, "B-1", SyncStatus.ERROR, error_at=now)
    evaluate(now)
    assert not Alert.objects.exists(), "2 within the window is below 3"
    factories.sync(mapping, "A-3", SyncStatus.ERROR, error_at=now)
    evaluate(now + timedelta(seconds=1))
    [alert] = Alert.objects.all()
    assert alert.key == f"mapping:{mapping.pk}" and alert.value == 3
    assert alert.title == "Mapping 'Web ↔ QA': 3 syncs went into error in the last 10 minutes"
    assert alert.link == f"/sync/syncs/?status=error&mapping={mapping.pk}"
    assert alert.started_at == now - timedelta(minutes=2)
    assert "Syncs of the mapping in error now: 4." in alert.detail
    evaluate(now + timedelta(minutes=5))
    assert len(deliveries()) == 1, "no duplicate before the repeat interval"
    # Keep it above the threshold, and pass the repeat interval.
    for n in range(3):
        factories.sync(mapping, f"C-{n}", SyncStatus.ERROR, error_at=now + timedelta(minutes=29))
    evaluate(now + timedelta(minutes=31))
    assert len(deliveries(Delivery.Kind.REPEAT)) == 1
    evaluate(now + timedelta(minutes=45))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED, "the errors aged out of the window"
    assert len(deliveries(Delivery.Kind.RESOLVED)) == 1
    evaluate(now + timedelta(minutes=50))
    assert len(deliveries()) == 3


def test_a_repository_unhealthy_for_more_than_m_minutes_names_the_paused_mappings(hook):
    now = timezone.now()
    mapping = factories.mapping("Web ↔ QA")
    rule(Rule.Kind.REPOSITORY_UNHEALTHY, hook, window_minutes=5)
    Repository.objects.filter(pk=mapping.left_id).record_failure("401 Unauthorized", now, unhealthy=True)
    evaluate(now + timedelta(minutes=4))
    assert not Alert.objects.exists()
    evaluate(now + timedelta(minutes=6))
    [alert] = Alert.objects.all()
    assert alert.title == "Repository 'Web ↔ QA left' unhealthy for 6 minutes; 1 mapping paused"
    assert alert.started_at == now
    assert alert.link == f"/sync/mappings/{mapping.pk}/"
    assert "Why: 401 Unauthorized" in alert.detail and "Paused: Web ↔ QA http://localhost:8080/sync/" in alert.detail
    Repository.objects.filter(pk=mapping.left_id).record_success(now + timedelta(minutes=7))
    evaluate(now + timedelta(minutes=7))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED
    assert [d.kind for d in deliveries()] == ["firing", "resolved"]


def test_no_worker_alive_fires_after_m_minutes_and_resolves_when_one_beats(hook, redis_server):
    now = timezone.now()
    redis_client().flushall()
    rule(Rule.Kind.NO_WORKER, hook, window_minutes=5)
    record_heartbeat("celery@w1")
    evaluate(now)
    redis_client().flushall()
    evaluate(now + timedelta(minutes=4))
    assert not Alert.objects.exists()
    evaluate(now + timedelta(minutes=6))
    [alert] = Alert.objects.all()
    assert alert.title == "No worker alive for 6 minutes: nothing is being processed"
    assert alert.started_at == now and alert.link == "/sync/"
    record_heartbeat("celery@w1")
    evaluate(now + timedelta(minutes=7))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_redis_down_counts_as_no_worker_and_says_why(hook, no_redis):
    now = timezone.now()
    rule(Rule.Kind.NO_WORKER, hook, window_minutes=0)
    evaluate(now)
    [alert] = Alert.objects.all()
    assert "Redis does not answer" in alert.detail


def test_a_backlog_fires_when_the_oldest_due_pending_sync_waited_more_than_m_minutes(hook):
    now = timezone.now()
    mapping = factories.mapping()
    rule(Rule.Kind.BACKLOG, hook, window_minutes=30)
    factories.sync(mapping, "LATER-1", SyncStatus.PENDING, next_retry_at=now + timedelta(hours=1))  # not due
    queued = factories.sync(mapping, "Q-1", SyncStatus.PENDING)
    Synchronization.objects.filter(pk=queued.pk).update(updated_at=now - timedelta(minutes=20))
    evaluate(now)
    assert not Alert.objects.exists()
    evaluate(now + timedelta(minutes=11))
    [alert] = Alert.objects.all()
    assert alert.title == "Backlog: the oldest pending sync has waited 31 minutes (2 pending)"
    assert alert.link == "/sync/syncs/?status=pending"
    Synchronization.objects.filter(pk=queued.pk).claim("job", now)
    evaluate(now + timedelta(minutes=12))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_failed_operations_fire_at_n_within_m_minutes(hook):
    now = timezone.now()
    rule(Rule.Kind.OPERATION_FAILED, hook, threshold=1, window_minutes=60)
    Operation.objects.create(action="retry", state=Operation.State.FINISHED, finished_at=now)
    evaluate(now)
    assert not Alert.objects.exists()
    failed = Operation.objects.create(
        action="retry", state=Operation.State.FAILED, error="OperationalError: database is locked", finished_at=now
    )
    evaluate(now + timedelta(minutes=1))
    [alert] = Alert.objects.all()
    assert alert.title == f"1 operation failed in the last 60 minutes (latest: Retry #{failed.pk})"
    assert alert.link == f"/sync/operations/{failed.pk}/"
    assert "database is locked" in alert.detail
    evaluate(now + timedelta(minutes=61))
    alert.refresh_from_db()
    assert alert.state == Alert.State.RESOLVED


def test_a_disabled_rule_resolves_its_alerts_quietly_and_a_rule_without_channel_sends_nothing(no_redis):
    now = timezone.now()
    watched = rule(Rule.Kind.NO_WORKER, window_minutes=0)
    evaluate(now)
    assert Alert.objects.filter(state="firing").count() == 1 and not Delivery.objects.exists()
    Rule.objects.filter(pk=watched.pk).update(enabled=False)
    evaluate(now + timedelta(minutes=1))
    alert = Alert.objects.get()
    assert alert.state == Alert.State.RESOLVED and alert.resolution == "the rule was disabled"


def test_only_one_holder_gets_the_lease_until_it_is_released_or_expires():
    now = timezone.now()
    ttl = timedelta(minutes=1)
    assert lease.claim("a", now, ttl)
    assert not lease.claim("b", now + timedelta(seconds=59), ttl)
    assert lease.claim("a", now + timedelta(seconds=1), ttl), "the holder may renew"
    assert lease.release("a", now + timedelta(seconds=2))
    assert lease.claim("b", now + timedelta(seconds=3), ttl)
    assert not lease.release("a", now + timedelta(seconds=4)), "a released lease is not the holder's any more"
    assert lease.claim("c", now + timedelta(seconds=3) + ttl, ttl), "an expired holder is replaced"


def test_a_round_does_nothing_while_another_holds_the_lease(hook, no_redis):
    rule(Rule.Kind.NO_WORKER, hook, window_minutes=0)
    now = timezone.now()
    assert lease.claim("other", now, timedelta(minutes=5))
    assert rounds.run_round("me", now) is None
    assert not Alert.objects.exists()
    lease.release("other", now)
    done = rounds.run_round("me", now)
    assert done.applied.fired == 1 and done.sent == {"pending": 1}
    assert lease.state().holder == "" and lease.state().last_round_at is not None


def test_the_default_rules_exist_one_per_kind():
    assert create_defaults(Rule) == len(DEFAULT_RULES)
    assert sorted(Rule.objects.values_list("kind", flat=True)) == sorted(Rule.Kind.values)
    assert create_defaults(Rule) == 0


def test_a_rule_with_numbers_out_of_bounds_or_a_bug_fails_alone_and_says_so(hook, no_redis, monkeypatch, caplog):
    """One rule with a window of 9223372036854775807 minutes stopped every round with
    an OverflowError (1100000000: "date value out of range"; a huge repeat interval
    crashed when its alert fired again), silently."""
    now = timezone.now()
    huge = 2_147_483_647  # the most a PostgreSQL integer column holds; SQLite would take more
    Rule.objects.create(name="Huge window", kind=Rule.Kind.MAPPING_ERRORS, window_minutes=huge)
    Rule.objects.create(name="Far window", kind=Rule.Kind.BACKLOG, window_minutes=1_100_000_000)
    Rule.objects.create(name="Huge repeat", kind=Rule.Kind.OPERATION_FAILED, repeat_minutes=huge)
    Rule.objects.create(name="Buggy", kind=Rule.Kind.NEW_ERROR_KIND)
    working = rule(Rule.Kind.NO_WORKER, hook, window_minutes=0)

    def broken(rule, obs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(evaluator.CONDITIONS, Rule.Kind.NEW_ERROR_KIND, broken)
    for seconds in (0, 30, 60):
        evaluate(now + timedelta(seconds=seconds))
    [alert] = Alert.objects.all()
    assert alert.rule == working, "the working rule is evaluated all the same"
    failing = {r.name: r for r in Rule.objects.failing()}
    assert set(failing) == {"Huge window", "Far window", "Huge repeat", "Buggy"}
    assert "at most 525,600 minutes (one year)" in failing["Huge window"].error.lower()
    assert "repeat minutes" in failing["Huge repeat"].error
    assert failing["Buggy"].error == "ZeroDivisionError: division by zero"
    assert failing["Buggy"].error_since == now
    logged = LogEntry.objects.filter(level="error", message__startswith="Alert rule ")
    assert logged.count() == 4, "once per rule and error, not every round"
    assert logged.filter(message__contains="'Buggy' could not be evaluated").exists()
    assert any(r.levelname == "ERROR" and "Buggy" in r.getMessage() for r in caplog.records)
    # Corrected (or fixed), a rule works again and says so.
    Rule.objects.filter(name="Huge window").update(window_minutes=15)
    monkeypatch.undo()
    evaluate(now + timedelta(seconds=90))
    assert {r.name for r in Rule.objects.failing()} == {"Far window", "Huge repeat"}
    assert LogEntry.objects.filter(message="Alert rule 'Buggy' is evaluated again.").exists()


def test_a_failing_rule_shows_on_the_dashboard_card_and_the_history(client_as, viewer, no_redis):
    Rule.objects.create(name="Far window", kind=Rule.Kind.BACKLOG, window_minutes=1_100_000_000)
    evaluate(timezone.now())
    client = client_as(viewer)
    for page in ("/sync/", "/sync/alerts/"):
        content = client.get(page, headers={"HX-Request": "true"}).content.decode()
        assert "Rule 'Far window' cannot be evaluated" in content
        assert "525,600 minutes" in content


def test_the_rules_admin_page_says_whether_its_evaluation_fails(client_as, admin_user, no_redis):
    far = Rule.objects.create(name="Far window", kind=Rule.Kind.BACKLOG, window_minutes=1_100_000_000)
    evaluate(timezone.now())
    client = client_as(admin_user)
    assert "fails since" in client.get(f"/sync/admin/alerts/rule/{far.pk}/change/").content.decode()
    assert "fails since" in client.get("/sync/admin/alerts/rule/").content.decode()
    assert "no error" in client.get("/sync/admin/alerts/rule/add/").content.decode()


def test_titles_say_1_minute_1_sync_1_mapping_not_1_minutes(hook, no_redis):
    """Titles read "for 1 minutes"."""
    now = timezone.now()
    mapping = factories.mapping("Web ↔ QA")
    rule(Rule.Kind.MAPPING_ERRORS, hook, threshold=1, window_minutes=1)
    rule(Rule.Kind.NO_WORKER, hook, window_minutes=1)
    rule(Rule.Kind.REPOSITORY_UNHEALTHY, hook, window_minutes=1)
    rule(Rule.Kind.BACKLOG, hook, window_minutes=1)
    rule(Rule.Kind.OPERATION_FAILED, hook, threshold=1, window_minutes=1)
    evaluate(now)  # workers last seen now
    factories.sync(mapping, "A-1", SyncStatus.ERROR, error_at=now + timedelta(seconds=50))
    queued = factories.sync(mapping, "Q-1", SyncStatus.PENDING)
    Synchronization.objects.filter(pk=queued.pk).update(updated_at=now)
    Repository.objects.filter(pk=mapping.left_id).record_failure("401 Unauthorized", now, unhealthy=True)
    Operation.objects.create(
        action="retry", state=Operation.State.FAILED, error="x", finished_at=now + timedelta(seconds=30)
    )
    evaluate(now + timedelta(seconds=61))
    titles = sorted(Alert.objects.values_list("title", flat=True))
    assert titles == [
        f"1 operation failed in the last 1 minute (latest: Retry #{Operation.objects.get().pk})",
        "Backlog: the oldest pending sync has waited 1 minute (1 pending)",
        "Mapping 'Web ↔ QA': 1 sync went into error in the last 1 minute",
        "No worker alive for 1 minute: nothing is being processed",
        "Repository 'Web ↔ QA left' unhealthy for 1 minute; 1 mapping paused",
    ]
    details = "\n".join(Alert.objects.values_list("detail", flat=True))
    assert "Threshold: 1 within 1 minute;" in details and "threshold 1 minute." in details
    assert "minutes" not in "\n".join(titles) + details


def test_retries_go_at_the_round_nearest_their_backoff_not_one_round_late(no_redis, settings):
    """Retries waited 5, 15, 20, 40 s instead of 5, 10, 20, 40 at a 5 s interval: a
    retry due a moment after a round's start waited for the next round."""
    settings.SYNCWEB_ALERT_INTERVAL = 5
    settings.SYNCWEB_ALERT_RETRY_BASE = 5
    settings.SYNCWEB_ALERT_DELIVERY_ATTEMPTS = 5
    down = Channel(name="Down")
    down.set_url("json://127.0.0.1:1/hook")  # nothing listens on port 1
    down.save()
    start = timezone.now()
    failing = Delivery.objects.create(
        channel=down, kind="firing", title="t", body="b", created_at=start, next_attempt_at=start
    )
    attempts = []
    for tick in range(20):
        # Beat's ticks are not exact: a little early, a little late.
        rounds.run_round("me", start + timedelta(seconds=5 * tick + (0.3 if tick % 2 else -0.2)))
        failing.refresh_from_db()
        if failing.last_attempt_at and failing.last_attempt_at not in attempts:
            attempts.append(failing.last_attempt_at)
    assert failing.state == Delivery.State.FAILED and len(attempts) == 5
    waits = [round((later - earlier).total_seconds() / 5) * 5 for earlier, later in pairwise(attempts)]
    assert waits == [5, 10, 20, 40]
