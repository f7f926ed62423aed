"""The Syncs tab: filters, status counts, sorting, pagination, bad input."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from synchronizations.models import Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    web, mobile = factories.mapping("Web ↔ QA"), factories.mapping("Mobile ↔ GitHub")
    return {
        "web_ok": factories.sync(web, "WEB-1", title="Checkout button misaligned"),
        "web_error": factories.sync(web, "WEB-2", SyncStatus.ERROR, title="Login slow"),
        "web_pending": factories.sync(web, "WEB-3", SyncStatus.PENDING, last_processed_at=None),
        "mobile_error": factories.sync(mobile, "MOB-1", SyncStatus.ERROR, error_message="HTTP 401 token expired"),
        "mobile_ignored": factories.sync(mobile, "MOB-2", SyncStatus.IGNORED),
        "web": web,
        "mobile": mobile,
    }


def keys(response):
    return [row.record.left_key for row in response.context["table"].paginated_rows]


def get(http, **params):
    return http.get("/sync/syncs/", params)


@pytest.fixture
def viewer_client(client_as, viewer):
    return client_as(viewer)


def test_lists_every_sync_newest_processed_first_never_processed_last(viewer_client, data):
    # (each factory sync is processed a moment after the one made before it)
    assert keys(get(viewer_client)) == ["MOB-2", "MOB-1", "WEB-2", "WEB-1", "WEB-3"]


def test_filter_by_status(viewer_client, data):
    assert sorted(keys(get(viewer_client, status="error"))) == ["MOB-1", "WEB-2"]


def test_filter_by_mapping(viewer_client, data):
    assert sorted(keys(get(viewer_client, mapping=data["mobile"].pk))) == ["MOB-1", "MOB-2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("checkout", ["WEB-1"]), ("mob-2", ["MOB-2"]), ("RWEB-3", ["WEB-3"]), ("token expired", ["MOB-1"])],
)
def test_search_in_title_keys_and_error_message(viewer_client, data, text, expected):
    assert keys(get(viewer_client, q=text)) == expected


def test_filters_combine(viewer_client, data):
    assert keys(get(viewer_client, status="error", mapping=data["web"].pk)) == ["WEB-2"]
    assert keys(get(viewer_client, status="error", mapping=data["web"].pk, q="token")) == []


def test_status_counts_follow_the_other_filters(viewer_client, data):
    response = get(viewer_client, mapping=data["web"].pk, status="error")
    counts = {link["label"]: link["count"] for link in response.context["status_links"]}
    assert counts == {"All": 3, "OK": 1, "Pending": 1, "Processing": 0, "Error": 1, "Ignored": 0}
    assert response.context["matching"] == 1
    assertContains(response, "1 matching")


@pytest.mark.parametrize(("sort", "expected"), [("title", "WEB-1"), ("-title", "WEB-3"), ("left", "MOB-1")])
def test_sortable_columns(viewer_client, data, sort, expected):
    assert keys(get(viewer_client, sort=sort))[0] == expected


def test_sorting_by_last_processed_keeps_never_processed_last(viewer_client, data):
    data["web_ok"].last_processed_at = timezone.now() - timedelta(days=3)
    data["web_ok"].save()
    assert keys(get(viewer_client, sort="last_processed_at"))[0] == "WEB-1"
    assert keys(get(viewer_client, sort="last_processed_at"))[-1] == "WEB-3"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "sleeping"}, "The status filter &#x27;sleeping&#x27; was ignored"),
        ({"mapping": "424242"}, "The mapping filter &#x27;424242&#x27; was ignored"),
        ({"mapping": "abc"}, "The mapping filter &#x27;abc&#x27; was ignored"),
        ({"page": "two"}, "The page &#x27;two&#x27; was ignored"),
        ({"page": "999"}, "There is no page 999 of these results"),
        ({"sort": "nonsense"}, None),
    ],
)
def test_bad_input_gives_the_page_with_a_message(viewer_client, data, params, message):
    response = get(viewer_client, **params)
    assert response.status_code == 200
    if message:
        assertContains(response, message)
    assert len(keys(response)) == 5  # the bad value is ignored


def test_pages_of_fifty_without_counting_the_table(viewer_client, data, django_assert_max_num_queries):
    for number in range(60):
        factories.sync(data["web"], f"BULK-{number}")
    first = get(viewer_client, status="ok")
    assert len(keys(first)) == 50
    assert first.context["table"].page.has_next()
    assert len(keys(get(viewer_client, status="ok", page=2))) == 11
    # session, user, perms, status counts (SyncCount), mappings, the page's ids, its rows
    with django_assert_max_num_queries(8):
        get(viewer_client, status="ok", page=2)


def test_rows_link_details_and_artifacts_with_accessible_names(client_as, operator, data):
    response = client_as(operator).get("/sync/syncs/")
    pk = data["web_error"].pk
    assertContains(response, f'aria-label="Details for sync {pk}"')
    assertContains(response, f'aria-label="Select sync {pk}"')
    assertContains(response, 'aria-label="Select all on this page"')
    assertContains(response, 'aria-label="Actions"')
    assertContains(response, '<a href="https://left.example/WEB-2" target="_blank" rel="noopener">WEB-2</a>', html=True)


def test_a_viewer_gets_no_checkboxes_and_a_disabled_menu(viewer_client, data):
    response = get(viewer_client)
    assertNotContains(response, "Select sync")
    assertContains(response, 'aria-label="Actions" title="Actions" disabled')


SORTS = ["-last_processed_at", "last_processed_at", "title", "-title", "-mapping", "status", "left"]
SORT_VALUES = {
    "title": lambda sync: sync.title,
    "mapping": lambda sync: sync.mapping.name,
    "status": lambda sync: sync.status,
    "left": lambda sync: sync.left_key,
}


def sorted_keys(sort: str) -> list[str]:
    """Every sync's key in the order the table promises, worked out here: by the
    column, ties by id (newest first when ascending, the exact reverse when
    descending); by last processed, never-processed syncs last either way."""
    syncs = list(Synchronization.objects.select_related("mapping"))
    descending, name = sort.startswith("-"), sort.removeprefix("-")
    if name == "last_processed_at":
        processed = [sync for sync in syncs if sync.last_processed_at]
        never = [sync for sync in syncs if not sync.last_processed_at]
        ordered = sorted(processed, key=lambda sync: (sync.last_processed_at, sync.pk), reverse=descending)
        ordered += sorted(never, key=lambda sync: sync.pk, reverse=descending)
    else:
        value = SORT_VALUES[name]
        ordered = sorted(syncs, key=lambda sync: (value(sync), -sync.pk), reverse=descending)
    return [sync.left_key for sync in ordered]


@pytest.mark.parametrize("sort", SORTS)
def test_a_page_fetched_ids_first_is_the_slice_of_the_sorted_list(viewer_client, data, sort):
    """The page's ids come from one query and its rows from another; together they
    must be exactly that page of the sorted list, in order."""
    now = timezone.now()
    for number in range(120):
        processed = None if number % 7 == 0 else now - timedelta(minutes=number % 13)  # ties and never
        factories.sync(data["web"], f"PAGE-{number}", title=f"Item {number % 17}", last_processed_at=processed)
    expected = sorted_keys(sort)
    assert len(expected) == 125
    for number in (1, 2, 3):
        assert keys(get(viewer_client, sort=sort, page=number)) == expected[(number - 1) * 50 : number * 50]
    assert not get(viewer_client, sort=sort, page=3).context["table"].page.has_next()


def test_a_row_shows_its_sync(client_as, operator, data):
    sync = data["mobile_error"]
    sync.error_message = "HTTP 401: " + "x" * 100
    sync.last_processed_at = datetime(2026, 11, 28, 14, 5, 59, tzinfo=UTC)
    sync.save()
    body = client_as(operator).get("/sync/syncs/", {"q": "MOB-1"}).content.decode()
    row = body.split('<tr data-status="error">')[1].split("</tr>")[0]
    assert '<span class="badge text-bg-danger">Error</span>' in row
    assert "<td>Mobile ↔ GitHub</td>" in row
    assert "<td>2026-11-28 14:05</td>" in row  # to the minute, in TIME_ZONE (UTC here)
    # Cut at 80 characters, the whole in its tooltip.
    assert f'<span title="{sync.error_message}">HTTP 401: {"x" * 69}…</span>' in row
    # The details link is relative to the Syncs tab: it must land on the sync's page.
    href = row.split('<a href="')[1].split('"')[0]
    assert urljoin(reverse("syncs"), href) == reverse("sync_detail", args=[sync.pk])


def test_a_row_without_artifacts_or_processing_says_so(viewer_client, data):
    factories.sync(data["web"], "", SyncStatus.PENDING, left_url="", right_key="", right_url="", last_processed_at=None)
    row = get(viewer_client, status="pending").content.decode().split('<tr data-status="pending">')[1]
    assert row.count('<span class="text-body-secondary">not created yet</span>') == 2
    assert "<td>—</td>" in row


def test_ids_are_never_printed_as_localized_numbers(client_as, operator, data, settings):
    settings.USE_THOUSAND_SEPARATOR = True
    factories.sync(data["web"], "BIG-1", pk=1234567)
    response = client_as(operator).get("/sync/syncs/", {"q": "BIG-1"})
    assertContains(response, 'value="1234567" aria-label="Select sync 1234567"')
    assertContains(response, 'href="1234567/" aria-label="Details for sync 1234567"')


def test_the_rows_are_escaped(viewer_client, data):
    factories.sync(data["web"], "WEB-<b>", title="<script>alert(1)</script>", error_message='"><img src=x>')
    response = get(viewer_client, q="WEB-<b>")
    body = response.content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert '"><img src=x>' not in body
    assert "WEB-&lt;b&gt;" in body


def test_the_column_headers_sort_keep_the_filters_and_go_back_to_page_one(viewer_client, data):
    body = get(viewer_client, status="error", q="WEB", page=1, sort="title").content.decode()
    # Title is sorted ascending now: its link asks for descending; the others for their first order.
    assert 'href="?status=error&amp;q=WEB&amp;sort=-title"' in body
    assert 'href="?status=error&amp;q=WEB&amp;sort=left"' in body
    assert "page=" not in body.split("<thead>")[1].split("</thead>")[0]
