"""The console's side of the alerts: the Dashboard's Alerts card, the history page,
and the admin's channels (URL never shown back, Send test) and rules."""

from datetime import UTC, datetime

import pytest
from django.contrib.admin.models import LogEntry
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from alerts.models import Alert, Channel, Delivery, Rule
from alerts.rules import DEFAULT_RULES

pytestmark = pytest.mark.django_db
SECRET_URL = "mailtos://alice:Hunter2Secret@smtp.example.com:587?from=syncweb@example.com&to=ops@example.com"


def firing_alert(title="Mapping 'Web': 12 syncs went into error in the last 15 minutes", **fields) -> Alert:
    now = timezone.now()
    rule = Rule.objects.get(kind=Rule.Kind.MAPPING_ERRORS)
    return Alert.objects.create(
        rule=rule, key="mapping:1", title=title, link="/sync/syncs/?status=error&mapping=1", started_at=now,
        fired_at=now, **fields,
    )  # fmt: skip


def test_the_default_rules_are_there_after_migrate():
    assert Rule.objects.count() == len(DEFAULT_RULES) == len(Rule.Kind.values)


def test_the_dashboard_card_shows_what_fires_and_links_to_the_history(client_as, viewer):
    client = client_as(viewer)
    assertContains(client.get("/sync/"), "Nothing is firing.")
    firing_alert()
    response = client.get("/sync/", headers={"HX-Request": "true"})
    assertContains(
        response, '<a href="/sync/syncs/?status=error&amp;mapping=1">Mapping &#x27;Web&#x27;: 12 syncs went into'
    )
    assertContains(response, 'href="/sync/alerts/"')


def test_the_history_shows_firing_and_resolved_alerts_with_their_deliveries(client_as, viewer):
    alert = firing_alert()
    resolved = firing_alert(title="Old one", state=Alert.State.RESOLVED, resolution="a worker is alive again")
    channel = Channel(name="Ops mail")
    channel.set_url(SECRET_URL)
    channel.save()
    now = timezone.now()
    Delivery.objects.create(
        alert=alert, channel=channel, kind="firing", state="failed", title="[syncweb] FIRING: x", body="b",
        created_at=now, attempts=5, last_error="Connection refused by ****",
    )  # fmt: skip
    client = client_as(viewer)
    page = client.get("/sync/alerts/")
    assertContains(page, "Firing → Ops mail: Failed (5 attempts)")
    assertContains(page, "Connection refused by ****")
    assertContains(page, "a worker is alive again")
    assertNotContains(page, "Hunter2Secret")
    only_resolved = client.get("/sync/alerts/", {"state": "resolved"})
    assertContains(only_resolved, f'id="alert-{resolved.pk}"')
    assertNotContains(only_resolved, f'id="alert-{alert.pk}"')
    assertContains(client.get("/sync/alerts/", {"state": "bogus"}), "The state &#x27;bogus&#x27; was ignored")


def test_the_history_needs_the_view_permission(client, client_as, outsider):
    assert client.get("/sync/alerts/").status_code == 302
    assert client_as(outsider).get("/sync/alerts/").status_code == 403


def test_a_channel_url_is_stored_encrypted_and_never_shown_back_in_the_admin(client_as, admin_user):
    client = client_as(admin_user)
    response = client.post("/sync/admin/alerts/channel/add/", {"name": "Ops mail", "url": SECRET_URL, "enabled": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    channel = Channel.objects.get()
    assert channel.url_value() == SECRET_URL and "Hunter2Secret" not in channel.url
    for page in (f"/sync/admin/alerts/channel/{channel.pk}/change/", "/sync/admin/alerts/channel/"):
        content = client.get(page).content.decode()
        assert "Hunter2Secret" not in content
        assert "mailtos://smtp.example.com/…" in content and "alice" not in content
    # Saved again without a URL: the stored one is kept.
    client.post(f"/sync/admin/alerts/channel/{channel.pk}/change/", {"name": "Ops", "url": "", "enabled": "on"})
    channel.refresh_from_db()
    assert channel.name == "Ops" and channel.url_value() == SECRET_URL


def test_a_url_apprise_cannot_read_is_refused_without_echoing_it(client_as, admin_user):
    response = client_as(admin_user).post(
        "/sync/admin/alerts/channel/add/", {"name": "Bad", "url": "nosuch://secretvalue@host", "enabled": "on"}
    )
    assertContains(response, "Apprise cannot read this URL")
    assertNotContains(response, "secretvalue")
    assert not Channel.objects.exists()


def test_send_test_from_the_change_page_delivers_and_says_so(client_as, admin_user, webhook):
    channel = Channel(name="Hook")
    channel.set_url(webhook.url())
    channel.save()
    client = client_as(admin_user)
    change = client.get(f"/sync/admin/alerts/channel/{channel.pk}/change/")
    assertContains(change, f'action="/sync/admin/alerts/channel/{channel.pk}/send-test/"')
    assert client.get(f"/sync/admin/alerts/channel/{channel.pk}/send-test/").status_code == 405
    response = client.post(f"/sync/admin/alerts/channel/{channel.pk}/send-test/", follow=True)
    assertContains(response, "Test sent to &#x27;Hook&#x27;.")
    assert webhook.received[0]["title"].startswith("[syncweb] TEST")
    assert Delivery.objects.get().kind == Delivery.Kind.TEST


def test_send_test_as_an_action_reports_a_failure(client_as, admin_user):
    channel = Channel(name="Down")
    channel.set_url("json://127.0.0.1:1/hook")
    channel.save()
    response = client_as(admin_user).post(
        "/sync/admin/alerts/channel/", {"action": "send_test", "_selected_action": [channel.pk]}, follow=True
    )
    assertContains(response, "Test to &#x27;Down&#x27; failed:")


def test_a_viewer_cannot_send_a_test(client_as, viewer):
    channel = Channel(name="Hook")
    channel.set_url("json://127.0.0.1:1/hook")
    channel.save()
    response = client_as(viewer).post(f"/sync/admin/alerts/channel/{channel.pk}/send-test/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Delivery.objects.exists()


def test_admins_edit_rules_in_the_admin(client_as, admin_user):
    client = client_as(admin_user)
    rule = Rule.objects.get(kind=Rule.Kind.BACKLOG)
    assertContains(client.get("/sync/admin/alerts/rule/"), "Backlog")
    response = client.post(
        f"/sync/admin/alerts/rule/{rule.pk}/change/",
        {"name": "Backlog", "kind": "backlog", "enabled": "on", "threshold": "1", "window_minutes": "45",
         "repeat_minutes": "0"},
    )  # fmt: skip
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.window_minutes == 45 and rule.repeat is None


def test_alert_times_say_their_zone_with_utc_on_hover(client_as, viewer, settings):
    """The card said "since 2026-11-29 17:54" and the history "<td>2026-11-29 17:54:34</td>"."""
    settings.TIME_ZONE = "Europe/Berlin"
    moment = datetime(2026, 11, 29, 16, 54, 34, tzinfo=UTC)
    alert = firing_alert()
    Alert.objects.filter(pk=alert.pk).update(started_at=moment, fired_at=moment)
    client = client_as(viewer)
    hover = 'title="2026-11-29 16:54:34 UTC"'
    card = client.get("/sync/", headers={"HX-Request": "true"}).content.decode()
    assert f'<time datetime="2026-11-29T16:54:34+00:00" {hover}>2026-11-29 17:54 CET</time>' in card
    history = client.get("/sync/alerts/").content.decode()
    assert f'<td><time datetime="2026-11-29T16:54:34+00:00" {hover}>2026-11-29 17:54:34 CET</time></td>' in history


def test_the_admin_refuses_numbers_out_of_bounds_saying_the_bound(client_as, admin_user):
    client = client_as(admin_user)
    rule = Rule.objects.get(kind=Rule.Kind.MAPPING_ERRORS)
    response = client.post(
        f"/sync/admin/alerts/rule/{rule.pk}/change/",
        {"name": rule.name, "kind": rule.kind, "enabled": "on", "threshold": "2000000",
         "window_minutes": "9223372036854775807", "repeat_minutes": "1100000000"},
    )  # fmt: skip
    assert response.status_code == 200
    assertContains(response, "At most 525,600 minutes (one year).", count=2)
    assertContains(response, "At most 1,000,000.")
    rule.refresh_from_db()
    assert rule.window_minutes == 15
    ok = client.post(
        f"/sync/admin/alerts/rule/{rule.pk}/change/",
        {"name": rule.name, "kind": rule.kind, "enabled": "on", "threshold": "1000000", "window_minutes": "525600",
         "repeat_minutes": "525600"},
    )  # fmt: skip
    assert ok.status_code == 302


def test_an_admin_deletes_a_channel_with_deliveries_and_its_history_stays(client_as, admin_user, viewer):
    """The delete page said the account lacked permission to delete deliveries (403)
    once a channel had any, even a Send test's."""
    client = client_as(admin_user)
    channel = Channel(name="Regretted")
    channel.set_url("json://127.0.0.1:1/hooks/regretted-token")
    channel.save()
    client.post(f"/sync/admin/alerts/channel/{channel.pk}/send-test/")
    alert = firing_alert()
    now = timezone.now()
    waiting = Delivery.objects.create(
        alert=alert, channel=channel, kind="firing", title="[syncweb] FIRING: x", body="b", created_at=now,
        next_attempt_at=now,
    )  # fmt: skip
    page = client.get(f"/sync/admin/alerts/channel/{channel.pk}/delete/")
    assert page.status_code == 200
    assertNotContains(page, "permission")
    response = client.post(f"/sync/admin/alerts/channel/{channel.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Channel.objects.exists()
    assert Delivery.objects.count() == 2, "the history is kept"
    waiting.refresh_from_db()
    assert waiting.channel is None and waiting.channel_name == "Regretted"
    assert waiting.state == Delivery.State.FAILED and waiting.last_error == "The channel was deleted."
    history = client_as(viewer).get("/sync/alerts/")
    assertContains(history, "Firing → Regretted (deleted): Failed")
    assertContains(history, "<td>Regretted (deleted)</td>")
    assert client_as(admin_user).get("/sync/admin/alerts/delivery/").status_code == 200


def test_an_admin_deletes_channels_and_rules_from_the_list_too(client_as, admin_user):
    client = client_as(admin_user)
    channel = Channel(name="Hook")
    channel.set_url("json://127.0.0.1:1/hook")
    channel.save()
    client.post(f"/sync/admin/alerts/channel/{channel.pk}/send-test/")
    response = client.post(
        "/sync/admin/alerts/channel/", {"action": "delete_selected", "_selected_action": [channel.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not Channel.objects.exists()
    alert = firing_alert()
    rule = alert.rule
    confirm = client.post("/sync/admin/alerts/rule/", {"action": "delete_selected", "_selected_action": [rule.pk]})
    assert confirm.status_code == 200
    assertNotContains(confirm, "permission")
    response = client.post(
        "/sync/admin/alerts/rule/", {"action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"}
    )
    assert response.status_code == 302 and not Rule.objects.filter(pk=rule.pk).exists()


def test_an_admin_deletes_a_rule_with_alerts_and_its_firing_ones_resolve(client_as, admin_user, viewer):
    alert = firing_alert()
    rule = alert.rule
    channel = Channel(name="Hook")
    channel.set_url("json://127.0.0.1:1/hook")
    channel.save()
    Delivery.objects.create(
        alert=alert, channel=channel, kind="firing", state="sent", title="t", body="b", created_at=timezone.now()
    )
    client = client_as(admin_user)
    page = client.get(f"/sync/admin/alerts/rule/{rule.pk}/delete/")
    assert page.status_code == 200
    assertNotContains(page, "permission")
    assert client.post(f"/sync/admin/alerts/rule/{rule.pk}/delete/", {"post": "yes"}).status_code == 302
    alert.refresh_from_db()
    assert alert.rule is None and alert.rule_name == rule.name
    assert alert.state == Alert.State.RESOLVED and alert.resolution == "the rule was deleted"
    assert Delivery.objects.count() == 1
    history = client_as(viewer).get("/sync/alerts/")
    assertContains(history, f"<td>{rule.name} (deleted)</td>")
    assertContains(client_as(viewer).get("/sync/"), "Nothing is firing.")
    assert client_as(admin_user).get("/sync/admin/alerts/alert/").status_code == 200
    assert client_as(admin_user).get(f"/sync/admin/alerts/alert/{alert.pk}/change/").status_code == 200


def test_the_admin_history_says_the_url_changed_only_when_it_did(client_as, admin_user):
    """Saving with the URL left empty ("keep the current one") recorded "Changed Apprise URL."."""
    client = client_as(admin_user)
    client.post("/sync/admin/alerts/channel/add/", {"name": "Ops mail", "url": SECRET_URL, "enabled": "on"})
    channel = Channel.objects.get()
    change = f"/sync/admin/alerts/channel/{channel.pk}/change/"

    def last_message():
        return LogEntry.objects.filter(object_id=str(channel.pk)).latest("pk").get_change_message()

    client.post(change, {"name": "Ops", "url": "", "enabled": "on"})
    assert last_message() == "Changed Name."
    client.post(change, {"name": "Ops", "url": "", "enabled": ""})
    assert last_message() == "Changed Enabled."
    client.post(change, {"name": "Ops", "url": SECRET_URL, "enabled": ""})
    assert last_message() == "No fields changed.", "the same URL again"
    client.post(change, {"name": "Ops", "url": SECRET_URL.replace("ops@", "oncall@"), "enabled": ""})
    assert last_message() == "Changed Apprise URL."
    channel.refresh_from_db()
    assert channel.url_value() == SECRET_URL.replace("ops@", "oncall@")
    assert "oncall" not in "".join(LogEntry.objects.values_list("change_message", flat=True))


def test_send_test_to_a_disabled_channel_is_refused_saying_so(client_as, admin_user, webhook):
    """Send test on a disabled channel still sent: it said the channel works while no alert reached it."""
    channel = Channel(name="Off", enabled=False)
    channel.set_url(webhook.url())
    channel.save()
    client = client_as(admin_user)
    assertContains(client.get(f"/sync/admin/alerts/channel/{channel.pk}/change/"), "Send test (channel disabled)")
    for response in (
        client.post(f"/sync/admin/alerts/channel/{channel.pk}/send-test/", follow=True),
        client.post(
            "/sync/admin/alerts/channel/", {"action": "send_test", "_selected_action": [channel.pk]}, follow=True
        ),
    ):
        assertContains(response, "Test not sent to &#x27;Off&#x27;: the channel is disabled")
    assert webhook.received == [] and not Delivery.objects.exists()
