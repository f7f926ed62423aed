"""End to end with a real Redis, a real `celery worker` and `celery beat`, and real
channels (an aiosmtpd SMTP server, a local webhook, and a channel nothing listens
to): errors appear -> exactly one notification per channel within a deadline;
repeated evaluations -> no duplicate; the condition clears -> exactly one
"resolved"; the failing channel is retried, then marked failed, and the others are
not held back. With no worker alive, beat's watchdog tells it."""

import time

import pytest
from django.utils import timezone

from alerts import lease
from alerts.models import Alert, Channel, Delivery, Rule
from synchronizations.models import Synchronization, SyncStatus
from tests import factories
from tests.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Production evaluates every 30 s; here every half second, retries a fifth of a
# second apart, three attempts.
FAST = {
    "SYNCWEB_TICK": "0.5",
    "SYNCWEB_ALERT_INTERVAL": "0.5",
    "SYNCWEB_ALERT_RETRY_BASE": "0.2",
    "SYNCWEB_ALERT_DELIVERY_ATTEMPTS": "3",
    "SYNCWEB_ALERT_TIMEOUT": "5",
}
DEADLINE = 30  # seconds from a condition to its notification (interval 0.5 s: expected within ~2 s)


def channel(name: str, url: str) -> Channel:
    made = Channel(name=name)
    made.set_url(url)
    made.save()
    return made


def titles(webhook, word: str) -> list[str]:
    return [body["title"] for body in webhook.received if body["title"].startswith(f"[syncweb] {word}:")]


def rounds_after(moment, count: int = 4) -> None:
    """Waits until ``count`` more rounds have finished after ``moment``."""
    seen = set()

    def more_rounds():
        last = lease.state().last_round_at
        if last and last > moment:
            seen.add(last)
        return len(seen) >= count

    wait_for(more_rounds, DEADLINE, f"{count} alert rounds")


def test_errors_notify_once_per_channel_then_resolve_once_and_a_failing_channel_blocks_nothing(
    celery_processes, webhook, smtp_server, capsys
):
    Rule.objects.all().delete()
    rule = Rule.objects.create(
        name="Errors in a mapping", kind=Rule.Kind.MAPPING_ERRORS, threshold=3, window_minutes=10, repeat_minutes=60
    )
    rule.channels.add(
        channel("Broken", "json://127.0.0.1:1/nobody-listens"),
        channel("Hook", webhook.url()),
        channel("Ops mail", smtp_server.url()),
    )
    mapping = factories.mapping("Web ↔ QA")
    celery_processes.worker(**FAST)
    celery_processes.beat(**FAST)
    rounds_after(timezone.now(), 2)  # the evaluator runs (and has seen no error yet)

    syncs = [factories.sync(mapping, f"WEB-{n}", SyncStatus.ERROR) for n in range(3)]
    condition_at = time.monotonic()
    wait_for(lambda: titles(webhook, "FIRING"), DEADLINE, "the firing notification on the webhook")
    webhook_latency = time.monotonic() - condition_at
    wait_for(lambda: smtp_server.messages, DEADLINE, "the firing e-mail")
    mail_latency = time.monotonic() - condition_at
    with capsys.disabled():
        print(f"\ncondition -> notification: webhook {webhook_latency:.2f} s, e-mail {mail_latency:.2f} s")
    assert webhook_latency < DEADLINE
    [fired] = titles(webhook, "FIRING")
    assert fired == "[syncweb] FIRING: Mapping 'Web ↔ QA': 3 syncs went into error in the last 10 minutes"
    body = webhook.received[0]["message"]
    assert f"See it: http://localhost:8080/sync/syncs/?status=error&mapping={mapping.pk}" in body
    assert "Since " in body

    # The broken channel: tried three times with backoff, then failed; the others were not held back.
    broken = wait_for(
        lambda: Delivery.objects.filter(channel__name="Broken", state=Delivery.State.FAILED).first(),
        DEADLINE,
        "the broken channel's delivery to be marked failed",
    )
    assert broken.attempts == 3 and broken.last_error

    # Repeated evaluations: no duplicate.
    rounds_after(timezone.now(), 6)
    assert len(titles(webhook, "FIRING")) == 1 and len(smtp_server.messages) == 1
    assert Alert.objects.filter(rule=rule).count() == 1

    # The condition clears: exactly one "resolved" per working channel.
    Synchronization.objects.filter(pk__in=[s.pk for s in syncs]).clear(timezone.now())
    wait_for(lambda: titles(webhook, "RESOLVED"), DEADLINE, "the resolved notification")
    wait_for(lambda: len(smtp_server.messages) == 2, DEADLINE, "the resolved e-mail")
    rounds_after(timezone.now(), 4)
    assert len(titles(webhook, "RESOLVED")) == 1 and len(titles(webhook, "FIRING")) == 1
    assert [m["Subject"].split(":")[0] for m in smtp_server.messages] == ["[syncweb] FIRING", "[syncweb] RESOLVED"]
    assert Alert.objects.get(rule=rule).state == Alert.State.RESOLVED


def test_with_no_worker_alive_beat_evaluates_and_tells_it(celery_processes, webhook, capsys):
    Rule.objects.all().delete()
    rule = Rule.objects.create(name="No worker", kind=Rule.Kind.NO_WORKER, window_minutes=0, repeat_minutes=60)
    rule.channels.add(channel("Hook", webhook.url()))
    _, worker = celery_processes.worker(**FAST)
    celery_processes.beat(**FAST)
    rounds_after(timezone.now(), 2)
    assert not webhook.received, "a worker is alive"
    worker.terminate()
    worker.wait(30)
    stopped_at = time.monotonic()
    wait_for(lambda: titles(webhook, "FIRING"), DEADLINE, "beat to tell that no worker is alive")
    with capsys.disabled():
        print(f"\nworker stopped -> 'no worker' notification: {time.monotonic() - stopped_at:.2f} s")
    assert titles(webhook, "FIRING")[0].startswith("[syncweb] FIRING: No worker alive")
    assert Delivery.objects.get(kind="firing").state == Delivery.State.SENT
    beat_log = celery_processes.started[-1][1].read_text()
    assert "alert round run by beat" in beat_log, "told by a round of beat's watchdog"
