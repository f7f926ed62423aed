"""Each user's display preferences (zone, theme, rows per page), the times shown
with their zone, the environment label and the favicon."""

from datetime import UTC, datetime

import pytest
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Preference
from synchronizations.models import LogEntry, Synchronization
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
