"""Each user's display preferences (zone, theme, rows per page), the times shown
with their zone, the environment label and the favicon."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Preference
from alerts.models import Alert, Channel, Delivery, Rule
from api.models import ApiToken
from synchronizations.models import LogEntry, Mapping, Operation, Repository, Synchronization, SyncStatus
from syncweb import zones
from tests import factories

pytestmark = pytest.mark.django_db


def test_times_are_shown_in_the_users_zone_with_its_name_and_utc_on_hover(client_as, viewer):
    sync = factories.sync(factories.mapping(), "WEB-1")
    Synchronization.objects.filter(pk=sync.pk).update(last_processed_at=datetime(2026, 1, 15, 14, 5, tzinfo=UTC))
    client = client_as(viewer)
    assertContains(client.get("/sync/syncs/"), ">2026-01-15 14:05 UTC</time>")
    client.post("/sync/preferences/", {"time_zone": "Europe/Berlin"})
    body = client.get("/sync/syncs/").content.decode()
    assert (
        '<time datetime="2026-01-15T14:05:00+00:00" title="2026-01-15 14:05:00 UTC">2026-01-15 15:05 CET</time>' in body
    )


def test_the_default_zone_is_the_servers(client_as, viewer, settings):
    settings.TIME_ZONE = "America/New_York"
    LogEntry.objects.create(message="hello", timestamp=datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    assertContains(client_as(viewer).get("/sync/logs/"), ">2026-07-01 08:00:00 EDT</time>")


def test_an_unknown_zone_is_refused_and_changes_nothing(client_as, viewer):
    client = client_as(viewer)
    response = client.post("/sync/preferences/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assertContains(response, "is-invalid")
    assert not Preference.objects.exists()


@pytest.mark.parametrize(
    ("since", "note", "first_kept"),
    [
        # Clocks go forward at 02:00 CET to 03:00 CEST: 02:30 does not exist, read as 03:30 CEST (01:30 UTC).
        ("2026-03-29T02:30", "2026-03-29 02:30 does not exist in Europe/Berlin (the clocks go forward): read as "
         "03:30 CEST", "01:30"),
        # Clocks go back at 03:00 CEST to 02:00 CET: 02:30 happens twice, read as the first (00:30 UTC).
        ("2026-10-25T02:30", "2026-10-25 02:30 happens twice in Europe/Berlin (the clocks go back): read as the "
         "first of the two, 02:30 CEST (+0200 from UTC).", "00:30"),
    ],
)  # fmt: skip
def test_a_filter_time_at_a_dst_change_is_read_one_stated_way(client_as, viewer, since, note, first_kept):
    day = since[:10]
    for hour, minute in ((0, 15), (0, 30), (1, 15), (1, 30), (1, 45)):
        moment = datetime.fromisoformat(f"{day}T{hour:02}:{minute:02}:00+00:00")
        LogEntry.objects.create(message=f"at {hour:02}:{minute:02} UTC", timestamp=moment)
    client = client_as(viewer)
    client.post("/sync/preferences/", {"time_zone": "Europe/Berlin"})
    response = client.get("/sync/logs/", {"since": since})
    assertContains(response, "Since: " + note)
    kept = sorted(entry.message for entry in response.context["entries"])
    assert kept[0] == f"at {first_kept} UTC"


def test_an_ordinary_time_has_no_note():
    from zoneinfo import ZoneInfo

    moment, note = zones.resolve(datetime(2026, 6, 1, 12, 0), ZoneInfo("Europe/Berlin"))
    assert note == "" and moment.utcoffset().total_seconds() == 7200


def test_rows_per_page_are_remembered(client_as, viewer):
    mapping = factories.mapping()
    for n in range(30):
        factories.sync(mapping, f"WEB-{n}")
    client = client_as(viewer)
    assert len(client.get("/sync/syncs/").context["table"].rows) == 30
    assert len(client.get("/sync/syncs/", {"per_page": "25"}).context["table"].rows) == 25
    assert len(client.get("/sync/syncs/").context["table"].rows) == 25
    assert Preference.objects.get(user=viewer).per_page == 25
    assert client.get("/sync/logs/").context["per_page"] == 25


def test_preferences_follow_the_user_to_a_new_session(client_as, viewer):
    client_as(viewer).post("/sync/preferences/", {"theme": "dark", "per_page": "100"})
    other = Client()
    other.force_login(viewer)
    body = other.get("/sync/").content.decode()
    assert 'data-bs-theme="dark" data-theme-preference="dark"' in body


def test_the_theme_switch_saves_the_theme_alone_and_goes_back(client_as, viewer):
    client = client_as(viewer)
    client.post("/sync/preferences/", {"time_zone": "Europe/Berlin"})
    response = client.post("/sync/preferences/", {"theme": "light", "next": "/sync/logs/?level=error"})
    assert response.status_code == 302 and response["Location"] == "/sync/logs/?level=error"
    assert (Preference.objects.get(user=viewer).theme, Preference.objects.get(user=viewer).time_zone) == (
        "light",
        "Europe/Berlin",
    )
    # Elsewhere than this site: back to the preferences page.
    response = client.post("/sync/preferences/", {"theme": "dark", "next": "https://evil.example/"})
    assert response["Location"] == "/sync/preferences/"


def test_a_bad_theme_changes_nothing(client_as, viewer):
    client = client_as(viewer)
    response = client.post("/sync/preferences/", {"theme": "neon", "next": "/sync/"})
    assert response.status_code == 302
    assert not Preference.objects.exists()


def test_auto_lets_the_script_follow_the_system(client_as, viewer):
    body = client_as(viewer).get("/sync/").content.decode()
    assert 'data-theme-preference="auto"' in body
    assert '<script src="/sync/static/syncweb/theme.js"></script>' in body.split("</head>")[0]


def test_the_environment_label_colours_the_header_and_prefixes_the_title(client_as, admin_user, settings):
    client = client_as(admin_user)
    assertNotContains(client.get("/sync/"), 'data-testid="environment"')
    settings.SYNCWEB_ENVIRONMENT = "production"
    body = client.get("/sync/").content.decode()
    assert "<title>[production] Dashboard · syncweb</title>" in body
    assert 'class="environment-band text-bg-danger"' in body
    admin = client.get("/sync/admin/").content.decode()
    assert "<title>[production] " in admin and "environment-danger" in admin


@pytest.mark.parametrize(
    ("name", "colour"), [("production", "danger"), ("prod-eu", "danger"), ("staging", "warning"), ("test", "info")]
)
def test_environment_colours(name, colour):
    from syncweb.context_processors import environment_colour

    assert environment_colour(name) == colour


def test_the_favicon_is_served_to_anyone():
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/vnd.microsoft.icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"


# A time of day in text ("2026-11-29 17:54", "17:54:34"), unless a zone follows it
# ("CET", "+0545"). Times in <time> elements say their zone and are taken out first.
TIME_IN_TEXT = re.compile(
    r"(?<![\d:])(?:\d{4}-\d{2}-\d{2}[ T])?\d{2}:\d{2}(?::\d{2})?(?!:?\d)(?! (?:[A-Z]{2,5}|[+-]\d{4})\b)"
)


def times_without_zone(html: str) -> list[str]:
    """The times of a page's text that do not say their zone."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<time\b[^>]*>[^<]*</time>", " ", html)
    text = unescape(re.sub(r"<[^>]+>", " ", html))
    return [match.group() for match in TIME_IN_TEXT.finditer(re.sub(r"\s+", " ", text))]


def test_every_time_the_console_shows_says_its_zone(client_as, admin_user, settings):
    """Every page of the console with a time on it, each kind of time there: none
    without its zone (the alerts' pages and card, the operations, the tokens, the
    paused and waiting mappings, the rescan page...)."""
    settings.TIME_ZONE = "Europe/Berlin"
    now = timezone.now()
    mapping = factories.mapping("Web ↔ QA")
    Repository.objects.filter(pk=mapping.right_id).update(healthy=False, unhealthy_since=now, last_failure="HTTP 503")
    Mapping.objects.filter(pk=mapping.pk).update(rescan_requested_at=now, detection_after=now + timedelta(hours=1))
    sync = factories.sync(mapping, "WEB-1", SyncStatus.ERROR)
    factories.log(sync, "Processing failed")
    operation = Operation.objects.create(
        action=Operation.Action.RETRY, requested_by=admin_user, total=1, finished_at=now
    )
    rule = Rule.objects.get(kind=Rule.Kind.MAPPING_ERRORS)
    alert = Alert.objects.create(rule=rule, key="mapping:1", title="Errors", started_at=now, fired_at=now)
    Alert.objects.create(
        rule=rule, key="mapping:2", title="Old", started_at=now, fired_at=now, resolved_at=now, state="resolved"
    )
    channel = Channel(name="Ops")
    channel.set_url("json://hooks.example/alerts")
    channel.save()
    Delivery.objects.create(
        alert=alert, channel=channel, kind="firing", title="t", body="b", created_at=now, attempts=1,
        next_attempt_at=now,
    )  # fmt: skip
    ApiToken.objects.issue(admin_user, "script", expires_at=now + timedelta(days=30))
    client = client_as(admin_user)
    client.post("/sync/preferences/", {"time_zone": "Asia/Kathmandu"})
    pages = [
        "/sync/", "/sync/syncs/", f"/sync/syncs/{sync.pk}/", "/sync/logs/", "/sync/mappings/",
        f"/sync/mappings/{mapping.pk}/", f"/sync/mappings/{mapping.pk}/rescan/", f"/sync/operations/{operation.pk}/",
        "/sync/alerts/", "/sync/metrics/", "/sync/preferences/", "/sync/api/tokens/",
    ]  # fmt: skip
    shown = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        shown[url] = times_without_zone(html)
    assert shown == {url: [] for url in pages}


def test_plain_text_times_say_their_zone(settings):
    """Messages and notifications cannot carry a <time> element: they name the zone."""
    settings.TIME_ZONE = "Europe/Berlin"
    moment = datetime(2026, 11, 29, 16, 54, 34, tzinfo=UTC)
    assert zones.text(moment) == "2026-11-29 17:54 CET"
    assert zones.text(moment, seconds=True) == "2026-11-29 17:54:34 CET"
    rule = Rule.objects.get(kind=Rule.Kind.MAPPING_ERRORS)
    alert = Alert(rule=rule, title="Errors", started_at=moment, fired_at=moment)
    text = render_to_string("alerts/notification.txt", {"alert": alert, "kind": "firing", "now": moment})
    assert "Since 2026-11-29 17:54 CET." in text
