"""Notifications through Apprise to real servers the tests start: e-mail to an
aiosmtpd SMTP server, JSON webhooks to a local HTTP server; failed attempts retried
with backoff, then marked failed, without holding other channels back; secrets
never shown."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts import delivery
from alerts.models import Channel, Delivery
from synchronizations.models import LogEntry

pytestmark = pytest.mark.django_db


def channel(name: str, url: str) -> Channel:
    made = Channel(name=name)
    made.set_url(url)
    made.save()
    return made


def pending(to: Channel, title: str = "[syncweb] FIRING: something", now=None) -> Delivery:
    now = now or timezone.now()
    return Delivery.objects.create(
        channel=to, kind=Delivery.Kind.FIRING, title=title, body="body text", created_at=now, next_attempt_at=now
    )


def test_an_email_reaches_a_real_smtp_server(smtp_server):
    mail = channel("Ops mail", smtp_server.url())
    made = pending(mail, "[syncweb] FIRING: 12 errors in mapping 'Web'")
    assert delivery.send_due(timezone.now()) == {"sent": 1}
    made.refresh_from_db()
    assert made.state == Delivery.State.SENT and made.attempts == 1 and made.sent_at
    [message] = smtp_server.messages
    assert message["Subject"] == "[syncweb] FIRING: 12 errors in mapping 'Web'"
    assert "ops@example.com" in message["To"]
    assert "body text" in message.get_body(("plain", "html")).get_content()


def test_a_webhook_receives_title_body_and_type(webhook):
    hook = channel("Hook", webhook.url())
    pending(hook, "[syncweb] FIRING: x")
    delivery.send_due(timezone.now())
    [received] = webhook.received
    assert received["title"] == "[syncweb] FIRING: x"
    assert received["message"] == "body text"
    assert received["type"] == "failure"


def test_a_failing_channel_is_retried_with_backoff_then_marked_failed_and_others_still_get_theirs(webhook, settings):
    settings.SYNCWEB_ALERT_DELIVERY_ATTEMPTS = 3
    settings.SYNCWEB_ALERT_RETRY_BASE = 10
    good = channel("Good", webhook.url("good"))
    bad = channel("Bad", "json://127.0.0.1:1/refused")  # nothing listens on port 1
    now = timezone.now()
    failing, working = pending(bad, now=now), pending(good, now=now)
    assert delivery.send_due(now) == {"pending": 1, "sent": 1}
    working.refresh_from_db()
    failing.refresh_from_db()
    assert working.state == Delivery.State.SENT
    assert failing.state == Delivery.State.PENDING and failing.attempts == 1
    assert failing.next_attempt_at == now + timedelta(seconds=10)
    assert failing.last_error
    assert delivery.send_due(now + timedelta(seconds=9)) == {}, "retried before its backoff"
    assert delivery.send_due(now + timedelta(seconds=10)) == {"pending": 1}
    failing.refresh_from_db()
    assert failing.next_attempt_at == now + timedelta(seconds=10 + 20)
    assert delivery.send_due(now + timedelta(seconds=30)) == {"failed": 1}
    failing.refresh_from_db()
    assert failing.state == Delivery.State.FAILED and failing.attempts == 3 and failing.next_attempt_at is None
    assert LogEntry.objects.filter(level="error", message__contains="channel 'Bad' failed after 3 attempts").exists()
    assert len(webhook.received) == 1


def test_secrets_of_a_channel_url_are_never_stored_in_clear_nor_shown_in_errors(webhook):
    secret_url = f"jsons://alice:Hunter2Secret@127.0.0.1:{webhook.port}/tok3nPath"  # TLS to a plain server: fails
    made = channel("Secret", secret_url)
    assert "Hunter2Secret" not in made.url and made.url.startswith("fernet:")
    assert made.url_redacted == f"jsons://127.0.0.1:{webhook.port}/…"
    assert made.url_value() == secret_url
    sent = delivery.send_test(made, timezone.now())
    assert sent.state == Delivery.State.FAILED, "a test is tried once"
    assert sent.last_error and "Hunter2Secret" not in sent.last_error


def test_scrub_masks_every_part_the_redacted_url_hides():
    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general"
    text = delivery.scrub(f"failed posting to {url} with token TIiajkdnlazkcOXrIdevi7FQ", url)
    assert text == "failed posting to slack://T...2/… with token ****"
    assert delivery.scrub("T1JJ3T3L2 refused A1BRTD4JD", url) == "**** refused ****", "a token in place of the host"
    webhook = "json://127.0.0.1:8926/hooks/pathsecret5?+X-Api-Key=headersecret7&-apikey=querysecret6"
    text = delivery.scrub("POST /hooks/pathsecret5 with X-Api-Key: headersecret7, apikey=querysecret6", webhook)
    assert text == "POST **** with X-Api-Key: ****, apikey=****"


def test_a_test_to_a_working_channel_is_sent_and_recorded(smtp_server):
    mail = channel("Ops mail", smtp_server.url())
    sent = delivery.send_test(mail, timezone.now())
    assert sent.state == Delivery.State.SENT and sent.kind == Delivery.Kind.TEST
    assert smtp_server.messages[0]["Subject"].startswith("[syncweb] TEST")


def test_an_email_keeps_its_lines_and_shows_markup_as_text(smtp_server, webhook):
    """The text part had every newline collapsed, and the HTML part was the raw text:
    a rule, mapping or tracker error named with markup became live HTML."""
    evil = 'Errors <b>in</b> a <a href="http://evil.example/">mapping</a>'
    body = f"Mapping {evil!r}: 3 syncs went into error\nSince 2026-11-29 17:54 CET.\n\nRule: {evil} (x)."
    # Plain text (Apprise's e-mail takes the body's format), HTML asked for in the URL, a webhook.
    html_url = smtp_server.url("html@example.com") + "&format=html"
    targets = [smtp_server.url("plain@example.com"), html_url, webhook.url()]
    for number, url in enumerate(targets):
        Delivery.objects.create(
            channel=channel(f"Channel {number}", url), kind="firing", title=f"[syncweb] FIRING: {evil}", body=body,
            created_at=timezone.now(), next_attempt_at=timezone.now(),
        )  # fmt: skip
    assert delivery.send_due(timezone.now()) == {"sent": 3}
    mails = {message["To"]: message for message in smtp_server.messages}
    for message in mails.values():
        assert message["Subject"] == f"[syncweb] FIRING: {evil}"
        plain = message.get_body(("plain",))
        assert plain.get_content().replace("\r\n", "\n").strip() == body, "its lines, its text as it is"
    assert mails["plain@example.com"].get_body(("html",)) is None
    html = mails["html@example.com"].get_body(("html",)).get_content()
    assert "<b>in</b>" not in html and '<a href="http://evil.example/">' not in html
    assert "&lt;b&gt;in&lt;/b&gt;" in html
    assert html.count("<br") >= 3, "its lines"
    assert webhook.received[0]["message"] == body, "a webhook gets the text as it is"
