"""The Metrics page, its chart JSON and the CSV, for a small known data set."""

from datetime import UTC, datetime, timedelta

import pytest
from pytest_django.asserts import assertContains

from metrics import rollup
from tests import factories

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-11-02", "days": "3"}  # Monday 2 to Wednesday 4 November


@pytest.fixture
def data(settings):
    settings.TIME_ZONE = "UTC"
    a, b = factories.mapping("A"), factories.mapping("B")
    for mapping, kind, when in [
        (a, "created", datetime(2026, 11, 2, 9, 15)),
        (a, "updated", datetime(2026, 11, 2, 9, 40)),
        (a, "updated", datetime(2026, 11, 3, 14, 0)),
        (b, "created", datetime(2026, 11, 3, 14, 30)),
        (a, "updated", datetime(2026, 10, 31, 10, 0)),  # in the previous period
        (a, "created", datetime(2026, 11, 5, 0, 0)),  # after the period
    ]:
        rollup.record(mapping_id=mapping.pk, kind=kind, sync_id=None, when=when.replace(tzinfo=UTC))
    return {"a": a, "b": b}


@pytest.fixture
def viewer_client(client_as, viewer):
    return client_as(viewer)


def test_daily_chart_json(viewer_client, data):
    body = viewer_client.get("/sync/metrics/daily.json", PERIOD).json()
    assert set(body) == {"labels", "datasets"}  # chart data only
    assert body["labels"] == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert [(d["label"], d["data"]) for d in body["datasets"]] == [("Total", [2, 2, 0]), ("Created", [1, 1, 0])]


def test_grouped_chart_json(viewer_client, data):
    body = viewer_client.get("/sync/metrics/grouped.json", PERIOD).json()
    assert body["weekdays"][0] == "Monday"
    assert body["datasets"] == [
        {"label": "Total", "data": [{"x": 9, "y": 1, "v": 2}, {"x": 14, "y": 2, "v": 2}]},
        {"label": "Created", "data": [{"x": 9, "y": 1, "v": 1}, {"x": 14, "y": 2, "v": 1}]},
    ]


def test_the_mapping_filter(viewer_client, data):
    body = viewer_client.get("/sync/metrics/daily.json", {**PERIOD, "mapping": data["a"].pk}).json()
    assert body["datasets"][0]["data"] == [2, 1, 0]


def test_the_page_compares_with_the_previous_period(viewer_client, data):
    response = viewer_client.get("/sync/metrics/", PERIOD)
    rows = {row.name: (row.current, row.previous, row.change) for row in response.context["comparison"]}
    assert rows == {"Created": (2, 0, None), "Updated": (2, 1, 100.0), "All synchronizations": (4, 1, 300.0)}
    assertContains(response, '<td class="text-end">—</td>', html=True)
    assertContains(response, "+300.0 %")
    assertContains(response, "2026-10-30 to 2026-11-01")  # the previous period
    assertContains(response, 'data-url="/sync/metrics/daily.json?start=2026-11-02&amp;days=3&amp;end=2026-11-04"')


def test_the_page_has_table_alternatives_with_the_same_numbers(viewer_client, data):
    response = viewer_client.get("/sync/metrics/", PERIOD)
    assertContains(response, "Show as table", count=2)
    assert [(day.isoformat(), c.created, c.updated) for day, c in response.context["daily"]] == [
        ("2026-11-02", 1, 1), ("2026-11-03", 1, 1), ("2026-11-04", 0, 0)
    ]  # fmt: skip
    monday = dict(response.context["grid"])["Monday"]
    assert monday[9].total == 2 and sum(c.total for c in monday) == 2


def test_csv_of_the_daily_series(viewer_client, data):
    response = viewer_client.get("/sync/metrics/daily.csv", PERIOD)
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="syncs-2026-11-02-to-2026-11-04-UTC.csv"' in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())  # the BOM, for Excel
    assert response.content.decode("utf-8-sig").splitlines() == [
        "date,created,updated,total", "2026-11-02,1,1,2", "2026-11-03,1,1,2", "2026-11-04,0,0,0"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"start": "2026-02-30", "days": "3"}, "is not a date that exists"),
        ({"days": "0"}, "must be a number of days"),
        ({"start": "2026-11-05", "end": "2026-11-01"}, "is before the start date"),
        ({"mapping": "abc"}, "does not exist; showing all mappings"),
        ({"mapping": "4242"}, "does not exist; showing all mappings"),
    ],
)
def test_bad_periods_and_mappings_give_the_page_with_a_message(viewer_client, data, params, message):
    response = viewer_client.get("/sync/metrics/", params)
    assertContains(response, message)
    assert viewer_client.get("/sync/metrics/daily.json", params).status_code == 200


def test_the_numbers_come_from_a_few_queries(viewer_client, data, django_assert_max_num_queries):
    # session, user, 2 for the permission check; the period's hours, the previous
    # period's totals, the mappings of the filter
    with django_assert_max_num_queries(7):
        viewer_client.get("/sync/metrics/", PERIOD)
    with django_assert_max_num_queries(5):  # the same, less the mappings and the previous period
        viewer_client.get("/sync/metrics/daily.json", PERIOD)


def test_metrics_need_a_login_and_a_role(client, outsider, client_as, data):
    assert client.get("/sync/metrics/daily.json").status_code == 302
    assert client_as(outsider).get("/sync/metrics/daily.json").status_code == 403


@pytest.mark.parametrize("url", ["/sync/metrics/", "/sync/metrics/daily.json", "/sync/metrics/grouped.json"])
def test_metrics_answer_get_only(viewer_client, url):
    assert viewer_client.post(url).status_code == 405


def test_presets_offer_the_last_7_31_and_90_days(viewer_client, data):
    from django.utils import timezone

    response = viewer_client.get("/sync/metrics/", {"mapping": data["a"].pk})
    today = timezone.localdate()
    for days in (7, 31, 90):
        start = today - timedelta(days=days - 1)
        assertContains(response, f'href="?start={start:%Y-%m-%d}&days={days}&mapping={data["a"].pk}">{days} days</a>')


def test_metrics_name_their_zone_the_servers_whatever_the_users(client_as, viewer, data, settings):
    """The rollup is by UTC hour: Metrics cut days in TIME_ZONE for everyone, even a
    user who shows times in Asia/Kathmandu (+0545), and say which zone that is."""
    settings.TIME_ZONE = "Europe/Berlin"
    client = client_as(viewer)
    client.post("/sync/preferences/", {"time_zone": "Asia/Kathmandu"})
    page = client.get("/sync/metrics/", PERIOD)
    assertContains(page, "Days and hours in Europe/Berlin")
    monday = dict(page.context["grid"])["Monday"]
    assert monday[10].total == 2  # 09:15 and 09:40 UTC are 10:xx in Berlin (not 15:00 in Kathmandu)
    csv = client.get("/sync/metrics/daily.csv", PERIOD)
    assert 'filename="syncs-2026-11-02-to-2026-11-04-Europe-Berlin.csv"' in csv["Content-Disposition"]
    grouped = client.get("/sync/metrics/grouped.json", PERIOD).json()
    assert {(point["x"], point["y"]) for point in grouped["datasets"][0]["data"]} == {(10, 1), (15, 2)}
