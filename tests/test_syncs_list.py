"""The Syncs tab: filters, status counts, sorting, pagination, bad input."""

from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import pytest
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from synchronizations.models import SYNC_ORDERS, Synchronization, SyncStatus
from synchronizations.tables import SyncTable
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
        ({"page": "999"}, "The page &#x27;999&#x27; was ignored: the list pages by position"),
        ({"sort": "nonsense"}, "The sort &#x27;nonsense&#x27; was ignored"),
        ({"after": "yesterday"}, "The page position &#x27;yesterday&#x27; was ignored"),
        ({"after": "2026-13-01T00:00:00+00:00|1"}, "The page position"),
        ({"before": "2026-01-01T00:00:00|1"}, "The page position"),  # no zone
        ({"before": "|²"}, "The page position"),
        ({"per_page": "7"}, "The rows per page &#x27;7&#x27; was ignored"),
        ({"per_page": "²"}, "The rows per page"),
        ({"export": "xlsx"}, "The export &#x27;xlsx&#x27; was ignored"),
    ],
)
def test_bad_input_gives_the_page_with_a_message(viewer_client, data, params, message):
    response = get(viewer_client, **params)
    assert response.status_code == 200
    if message:
        assertContains(response, message)
    assert len(keys(response)) == 5  # the bad value is ignored


def next_url(response) -> str | None:
    """The Next link's query string, or None on the last page."""
    position = response.context["next_position"]
    return position or None


def test_pages_of_fifty_without_counting_the_table(viewer_client, data, django_assert_max_num_queries):
    for number in range(60):
        factories.sync(data["web"], f"BULK-{number}")
    first = get(viewer_client, status="ok")
    assert len(keys(first)) == 50
    assert next_url(first)
    second = get(viewer_client, status="ok", after=next_url(first))
    assert len(keys(second)) == 11
    assert next_url(second) is None
    # session, user, perms, status counts (SyncCount), mappings, the page's rows (and the
    # never-processed ones once the page reaches them)
    with django_assert_max_num_queries(8):
        get(viewer_client, status="ok", after=next_url(first))


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


def walk(client, sort: str, size: int = 50, between=None, **filters) -> list[list[str]]:
    """Every page of the list in ``sort`` by its Next links, calling ``between()``
    after each page; the pages' keys."""
    pages, params = [], {"sort": sort, "per_page": size, **filters}
    while True:
        response = get(client, **params)
        pages.append(keys(response))
        if not next_url(response):
            return pages
        params["after"] = next_url(response)
        if between:
            between()


@pytest.fixture
def many(data):
    now = timezone.now()
    for number in range(120):
        processed = None if number % 7 == 0 else now - timedelta(minutes=number % 13)  # ties and never
        factories.sync(data["web"], f"PAGE-{number}", title=f"Item {number % 17}", last_processed_at=processed)


def test_every_sortable_column_has_its_keyset_orders():
    assert SyncTable.sorts() == set(SYNC_ORDERS)


@pytest.mark.parametrize("sort", SORTS)
def test_the_pages_are_the_slices_of_the_sorted_list(viewer_client, data, many, sort):
    """Next after Next, every order the table offers gives exactly the sorted list,
    page by page, ties and never-processed syncs included."""
    expected = sorted_keys(sort)
    assert len(expected) == 125
    pages = walk(viewer_client, sort)
    assert [len(page) for page in pages] == [50, 50, 25]
    assert [key for page in pages for key in page] == expected


@pytest.mark.parametrize("sort", SORTS)
def test_previous_goes_back_to_the_same_page_and_first_to_the_start(viewer_client, data, many, sort):
    first = get(viewer_client, sort=sort, per_page=25)
    assert first.context["sync_page"].first and not first.context["previous_position"]
    links = first.content.decode().split('aria-label="Table navigation"')[1]
    assert 'rel="next"' in links and "First" not in links and 'rel="prev"' not in links
    pages = [keys(first)]
    response = first
    for _ in range(3):
        response = get(viewer_client, sort=sort, per_page=25, after=response.context["next_position"])
        pages.append(keys(response))
    for index in (2, 1, 0):
        response = get(viewer_client, sort=sort, per_page=25, before=response.context["previous_position"])
        assert keys(response) == pages[index]
    assert response.context["sync_page"].first  # back at the start: no First nor Previous link
    assert 'rel="prev"' not in response.content.decode()


def paging_while_the_engine_works(client, data, sort: str, **filters) -> tuple[list[str], set[str], set[str]]:
    """Pages through the list 25 at a time while, between two pages, the engine
    processes a sync already seen (its last processing becomes now), clears the error
    of another one seen (it leaves the error queue) and two new errors arrive.
    Returns the keys shown, those in the list from start to end, and those processed."""
    at_start = set(Synchronization.objects.filter(**filters).values_list("left_key", flat=True))
    shown: list[str] = []
    processed: set[str] = set()
    arrivals = iter(range(1000))

    def the_engine_works():
        now = timezone.now()
        seen = Synchronization.objects.filter(left_key__in=shown, **filters).exclude(left_key__in=processed)
        moved = seen.order_by("pk").first()
        moved.last_processed_at = now
        moved.save()
        processed.add(moved.left_key)
        seen.exclude(pk=moved.pk).order_by("-pk").first().delete()
        for _ in range(2):
            factories.sync(data["web"], f"NEW-{next(arrivals)}", SyncStatus.ERROR, last_processed_at=now)

    params = {"sort": sort, "per_page": 25, **filters}
    while True:
        response = get(client, **params)
        shown += keys(response)
        if not next_url(response):
            break
        params["after"] = next_url(response)
        the_engine_works()
    at_end = set(Synchronization.objects.filter(**filters).values_list("left_key", flat=True))
    return shown, at_start & at_end, processed


def test_paging_the_error_queue_while_syncs_are_processed_shows_none_twice_and_misses_none(viewer_client, data):
    now = timezone.now()
    for number in range(100):
        factories.sync(
            data["web"], f"ERR-{number}", SyncStatus.ERROR, last_processed_at=now - timedelta(minutes=number)
        )
    shown, throughout, _ = paging_while_the_engine_works(viewer_client, data, "-last_processed_at", status="error")
    assert len(shown) == len(set(shown)), "a sync was shown twice"
    assert throughout - set(shown) == set(), "a sync in the queue all along was never shown"


@pytest.mark.parametrize("sort", SORTS)
def test_paging_in_any_order_while_the_list_changes_shows_every_unmoved_sync_once(viewer_client, data, many, sort):
    """In every order, a sync that stayed in the list and kept its place is shown
    exactly once. (A sync processed meanwhile shows where its new time puts it: in
    the oldest-first order that is after the pages already read.)"""
    shown, throughout, processed = paging_while_the_engine_works(viewer_client, data, sort)
    unmoved = throughout - processed if sort == "last_processed_at" else throughout
    assert all(shown.count(key) == 1 for key in unmoved), "a sync was shown twice"
    assert unmoved - set(shown) == set(), "a sync in the list all along was never shown"
    if sort != "last_processed_at":
        assert len(shown) == len(set(shown))


def test_a_bookmarked_page_stays_valid_after_its_syncs_change(viewer_client, data, many):
    first = get(viewer_client, per_page=25)
    bookmark = first.context["next_position"]
    second = keys(get(viewer_client, per_page=25, after=bookmark))
    # The sync the bookmark was made from is processed again: the position holds.
    Synchronization.objects.filter(left_key=keys(first)[-1]).update(last_processed_at=timezone.now())
    assert keys(get(viewer_client, per_page=25, after=bookmark)) == second


@pytest.mark.parametrize("order_name", ["-last_processed_at", "last_processed_at"])
def test_the_pages_of_the_default_order_are_read_from_its_index(data, many, order_name):
    """Every query the Syncs tab's pages run in the last-processed order (both
    directions; first page, the next, the previous; with no filter, a status, a
    mapping, both) is a range of a sync_*processed index, not a scan and a sort.
    Found by the benchmark on PostgreSQL: the walk named no NULLS order, so a page
    of a million syncs took 0.8 s."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from synchronizations.models import SYNC_ORDERS

    order = SYNC_ORDERS[order_name]
    mapping = Synchronization.objects.values_list("mapping_id", flat=True).first()
    filters = [{}, {"status": SyncStatus.ERROR}, {"mapping_id": mapping}, {"mapping_id": mapping, "status": "ok"}]
    for chosen in filters:
        syncs = Synchronization.objects.filter(**chosen)
        with CaptureQueriesContext(connection) as ran:
            first = syncs.page(order, 3)
            if first.next:
                syncs.page(order, 3, before=syncs.page(order, 3, after=first.next).previous)
        walks = [q["sql"] for q in ran.captured_queries if "ORDER BY" in q["sql"] and "LIMIT" in q["sql"]]
        assert walks, chosen
        for sql in walks:
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # A test table is small enough for a scan to look cheaper: ask whether
                    # the index can give the order at all (no Sort node above it).
                    for method in ("seqscan", "bitmapscan", "sort"):  # a Sort left means none can
                        cursor.execute(f"SET LOCAL enable_{method} = off")
                    cursor.execute(f"EXPLAIN {sql}")
                    plan = " ".join(str(row[0]) for row in cursor.fetchall())
                    assert "Sort" not in plan, (chosen, sql, plan)
                else:
                    cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
                    plan = " ".join(str(row[-1]) for row in cursor.fetchall())
                    assert "TEMP B-TREE" not in plan, (chosen, sql, plan)


def test_a_row_shows_its_sync(client_as, operator, data):
    sync = data["mobile_error"]
    sync.error_message = "HTTP 401: " + "x" * 100
    sync.last_processed_at = datetime(2026, 11, 28, 14, 5, 59, tzinfo=UTC)
    sync.save()
    body = client_as(operator).get("/sync/syncs/", {"q": "MOB-1"}).content.decode()
    row = body.split('<tr data-status="error">')[1].split("</tr>")[0]
    assert '<span class="badge text-bg-danger">Error</span>' in row
    assert "<td>Mobile ↔ GitHub</td>" in row
    # To the minute, in the display zone (TIME_ZONE, UTC here) with its name; UTC on hover.
    assert (
        '<td><time datetime="2026-11-28T14:05:59+00:00" title="2026-11-28 14:05:59 UTC">'
        "2026-11-28 14:05 UTC</time></td>" in row
    )
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
    body = get(viewer_client, status="error", q="WEB", after="x|3", sort="title").content.decode()
    # Title is sorted ascending now: its link asks for descending; the others for their first order.
    assert 'href="?status=error&amp;q=WEB&amp;sort=-title"' in body
    assert 'href="?status=error&amp;q=WEB&amp;sort=left"' in body
    head = body.split("<thead>")[1].split("</thead>")[0]
    assert "page=" not in head and "after=" not in head


@pytest.mark.parametrize("params", [{"after": "|1"}, {"sort": "title", "after": "zzzz|1"}])
def test_a_page_past_the_end_says_so_and_links_the_first_page(viewer_client, data, params):
    """A bookmark whose later rows were cleared: the filters still match syncs."""
    page = get(viewer_client, **params).content.decode()
    assert "5 matching" in page
    assert "No sync matches these filters" not in page
    assert "No more syncs after this point" in page
    first = "?sort=title" if "sort" in params else "?"
    assert f'<a href="{first}">Go to the first page</a>' in page


def test_a_page_before_the_start_shows_the_first_page(viewer_client, data):
    assert keys(get(viewer_client, before="2999-01-01T00:00:00+00:00|999999")) == keys(get(viewer_client))


def test_nothing_matching_says_so_and_offers_no_download(viewer_client, data):
    page = get(viewer_client, q="nothing-like-this").content.decode()
    assert "No sync matches these filters" in page
    assert "Export 0 rows (CSV)" in page
    assert "export=csv" not in page and 'aria-disabled="true"><i class="bi bi-download"' in page
    assert "export=csv" in get(viewer_client).content.decode()


def test_counts_have_a_thousands_separator(viewer_client, data):
    Synchronization.objects.bulk_create(Synchronization(mapping=data["web"], left_key=f"B-{n}") for n in range(1000))
    page = get(viewer_client).content.decode()
    assert "1,005 matching" in page and "Export 1,005 rows (CSV)" in page
