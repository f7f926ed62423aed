"""The Mappings tab and the Logs tab."""

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from synchronizations import operations
from synchronizations.models import LogEntry, Mapping, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    mapping = factories.mapping("Web ↔ QA")
    mapping.field_map = [
        {"left": "title", "right": "summary", "direction": "both"},
        {"left": "priority", "right": "severity", "direction": "left_to_right", "values": {"High": "Major"}},
        {"left": "notes", "right": "comment", "direction": "right_to_left", "default": "-"},
    ]
    mapping.left_scope = "WEB"
    mapping.last_detection_at = timezone.now()
    mapping.last_detection_error = "Connection to 'Web ↔ QA right' refused"
    mapping.save()
    factories.sync(mapping, "WEB-1")
    factories.sync(mapping, "WEB-2", SyncStatus.ERROR)
    return mapping


def test_mappings_list_their_repositories_state_counts_and_last_detection(client_as, viewer, web):
    response = client_as(viewer).get("/sync/mappings/")
    assertContains(response, f'<a href="/sync/mappings/{web.pk}/">Web ↔ QA</a>', html=True)
    assertContains(response, "Web ↔ QA left")
    assertContains(response, "(WEB)")
    assertContains(response, f'href="/sync/syncs/?mapping={web.pk}&status=error"')
    assertContains(response, "failed: Connection to")
    mapping = response.context["mappings"][0]
    assert [(status["value"], status["count"]) for status in mapping.counts] == [
        ("ok", 1), ("pending", 0), ("processing", 0), ("error", 1), ("ignored", 0)
    ]  # fmt: skip


def test_a_mapping_page_shows_its_field_map_readably_and_links_its_syncs_and_log(client_as, viewer, web):
    response = client_as(viewer).get(f"/sync/mappings/{web.pk}/")
    assertContains(response, '<td aria-label="both ways">↔</td>', html=True)
    assertContains(response, "High → Major; any other value is an error")
    assertContains(response, "copied as they are; otherwise -")
    assertContains(response, f'href="/sync/syncs/?mapping={web.pk}"')
    assertContains(response, f'href="/sync/logs/?mapping={web.pk}"')
    assertNotContains(response, "Edit in the admin")


def test_an_admin_gets_a_link_to_edit_it(client_as, admin_user, web):
    assertContains(client_as(admin_user).get(f"/sync/mappings/{web.pk}/"), "Edit in the admin")
    assertContains(client_as(admin_user).get("/sync/mappings/"), "Add a mapping in the admin")


def test_an_unknown_mapping_is_a_404(client_as, viewer):
    assert client_as(viewer).get("/sync/mappings/424242/").status_code == 404


def test_the_mappings_page_query_count(client_as, viewer, web, django_assert_max_num_queries):
    factories.mapping("Another")
    client = client_as(viewer)
    with django_assert_max_num_queries(6):  # session, user, 2 permissions, counts, mappings
        client.get("/sync/mappings/")


# --- Logs --------------------------------------------------------------------------


@pytest.fixture
def logs(web):
    sync = web.synchronizations.get(left_key="WEB-2")
    now = timezone.now()
    other = factories.mapping("Other")
    entries = [
        LogEntry.objects.create(timestamp=now - timedelta(hours=3), message="Created RWEB-2", sync=sync, mapping=web),
        LogEntry.objects.create(
            timestamp=now - timedelta(hours=2),
            level="error",
            message="Processing failed: boom",
            detail="Trace",
            sync=sync,
            mapping=web,
        ),
        LogEntry.objects.create(timestamp=now - timedelta(hours=1), level="warning", message="Slow", mapping=other),
    ]
    return {"sync": sync, "entries": entries, "other": other}


def messages_of(response):
    return [entry.message for entry in response.context["entries"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["Slow", "Processing failed: boom", "Created RWEB-2"]),
        ({"level": "error"}, ["Processing failed: boom"]),
        ({"q": "created"}, ["Created RWEB-2"]),
    ],
)
def test_logs_newest_first_and_filtered(client_as, viewer, logs, params, expected):
    assert messages_of(client_as(viewer).get("/sync/logs/", params)) == expected


def test_logs_by_mapping_sync_and_time_range(client_as, viewer, logs):
    client = client_as(viewer)
    assert messages_of(client.get("/sync/logs/", {"mapping": logs["other"].pk})) == ["Slow"]
    assert len(messages_of(client.get("/sync/logs/", {"sync": logs["sync"].pk}))) == 2
    since = (timezone.now() - timedelta(hours=2, minutes=30)).isoformat()
    until = (timezone.now() - timedelta(minutes=90)).isoformat()
    assert messages_of(client.get("/sync/logs/", {"since": since, "until": until})) == ["Processing failed: boom"]


def test_detail_is_expandable(client_as, viewer, logs):
    assertContains(client_as(viewer).get("/sync/logs/"), '<summary class="small">Detail</summary>')


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"level": "loud"}, "The level filter &#x27;loud&#x27; was ignored"),
        ({"sync": "abc"}, "The sync filter &#x27;abc&#x27; was ignored"),
        ({"since": "last week"}, "The since filter &#x27;last week&#x27; was ignored"),
        ({"mapping": "999999"}, "The mapping filter &#x27;999999&#x27; was ignored"),
        ({"before": "nonsense"}, "The page position &#x27;nonsense&#x27; was ignored"),
    ],
)
def test_bad_log_filters_give_the_page_with_a_message(client_as, viewer, logs, params, message):
    response = client_as(viewer).get("/sync/logs/", params)
    assertContains(response, message)
    assert len(messages_of(response)) == 3


def test_keyset_pages_skip_and_repeat_nothing_while_entries_arrive(client_as, viewer, web, monkeypatch):
    from synchronizations import views

    monkeypatch.setattr(views, "LOG_PER_PAGE", 4)
    moment = timezone.now() - timedelta(hours=1)
    # Ten entries, some sharing a timestamp, as bulk-written entries do.
    for n in range(10):
        LogEntry.objects.create(timestamp=moment - timedelta(seconds=n // 3), message=f"entry {n}", mapping=web)
    client = client_as(viewer)
    seen, params = [], {"mapping": web.pk}
    while True:
        response = client.get("/sync/logs/", params)
        seen += messages_of(response)
        # New entries arrive between page loads; they are newer than every cursor.
        LogEntry.objects.create(message=f"arrived after page {len(seen)}", mapping=web)
        if not response.context["next_cursor"]:
            break
        params = {"mapping": web.pk, "before": response.context["next_cursor"]}
    assert sorted(seen) == sorted(f"entry {n}" for n in range(10))
    assert len(seen) == len(set(seen)) == 10


def test_the_logs_page_query_count_does_not_grow(client_as, viewer, logs, django_assert_max_num_queries):
    for n in range(120):
        LogEntry.objects.create(message=f"bulk {n}", mapping=logs["other"])
    client = client_as(viewer)
    with django_assert_max_num_queries(6):  # session, user, 2 permissions, one page, the mappings
        client.get("/sync/logs/")


def test_operator_actions_appear_in_the_logs_naming_the_user(client_as, viewer, operator, web):
    operations.perform("clear", [web.synchronizations.get(left_key="WEB-2").pk], user=operator)
    response = client_as(viewer).get("/sync/logs/", {"q": "operator"})
    assert messages_of(response) == ["Error cleared by operator."]
    assertContains(response, '<td class="small">operator</td>', html=True)
    assert Mapping.objects.count() == 1


def test_since_after_until_says_no_entry_can_match(client_as, viewer, logs, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    response = client_as(viewer).get("/sync/logs/", {"since": "2026-11-29T18:00", "until": "2026-11-29T09:00"})
    assert messages_of(response) == []
    assertContains(
        response,
        "Since (2026-11-29 18:00:00 CET) is not before until (2026-11-29 09:00:00 CET): no entry can match.",
    )


def test_a_logs_page_past_the_end_says_so_and_links_the_newest(client_as, viewer, logs):
    response = client_as(viewer).get("/sync/logs/", {"before": "2000-01-01T00:00:00+00:00|1"})
    assert messages_of(response) == []
    assertContains(response, "No more log entries before this point")
    assertContains(response, '<a href="?">Go to the newest</a>')
    assertNotContains(response, "No log entry matches.")


def test_nothing_to_export_offers_no_download(client_as, viewer, logs):
    page = client_as(viewer).get("/sync/logs/", {"q": "nothing-like-this"}).content.decode()
    assert "Export <span data-export-count>0</span>" in page
    assert "export=csv" not in page
