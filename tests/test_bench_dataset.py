"""The benchmark's data set generator (bench/dataset.py) at a tiny scale: the status
mix and shape of BENCH.md, reproducible from its seed, and the derived counts and
search index rebuilt after the bulk load."""

from dataclasses import replace

import pytest
from django.db.models import Count

from bench import dataset
from metrics.models import HourlyRollup, SyncEvent
from synchronizations.models import LogEntry, Mapping, SyncCount, Synchronization
from synchronizations.search import search
from tests import factories

TINY = replace(dataset.SCALES["small"], name="tiny", syncs=4000, logs=8000, events=6000, mappings=5, heavy_logs=400)

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot() -> list[tuple]:
    return list(Synchronization.objects.order_by("pk").values_list("mapping_id", "status", "title", "error_message"))


def test_the_data_set_has_the_shape_of_bench_md():
    meta = dataset.Generator(TINY, seed=3).run()
    assert meta["scale"] == "tiny" and dataset.describe()["seed"] == 3

    assert Synchronization.objects.count() == 4000 and Mapping.objects.count() == 5
    share = {
        status: n / 4000
        for status, n in Synchronization.objects.values_list("status").annotate(n=Count("pk")).order_by()
    }
    expected = {"ok": 0.90, "pending": 0.02, "error": 0.06, "ignored": 0.019}
    for status, fraction in expected.items():
        assert abs(share[status] - fraction) < 0.015, (status, share)

    errors = Synchronization.objects.filter(status="error")
    assert errors.exclude(error_pattern="").count() == errors.count()
    assert 30 <= errors.values("error_pattern").distinct().count() <= len(dataset.ERROR_TEMPLATES)
    assert not errors.filter(error_message__contains="{").exists()  # every placeholder filled

    assert LogEntry.objects.count() == 8000 and SyncEvent.objects.count() == 6000
    assert LogEntry.objects.filter(sync_id=dataset.HEAVY_SYNC).count() >= 400
    rolled = sum(row.created + row.updated for row in HourlyRollup.objects.all())
    assert rolled == 6000

    # The derived data came back after the load: counts and the search index.
    assert SyncCount.objects.by_status() == {status: round(share[status] * 4000) for status in share}
    found = search(Synchronization.objects.all(), "tracker")
    assert found.count() == errors.filter(error_message__icontains="tracker").count() > 0


def test_the_same_seed_gives_the_same_rows_and_another_seed_others():
    dataset.Generator(TINY, seed=5).run()
    first = snapshot()
    dataset.Generator(TINY, seed=5).run()
    assert snapshot() == first
    dataset.Generator(TINY, seed=6).run()
    assert snapshot() != first


def test_it_refuses_a_database_with_data_of_its_own():
    factories.sync(factories.mapping(), "REAL-1")
    with pytest.raises(dataset.NotABenchDatabase):
        dataset.prepare("small")
    assert Synchronization.objects.filter(left_key="REAL-1").exists()


def test_the_deep_page_cursors_of_the_bench_are_followed_by_the_tab_and_the_api(client_as, operator):
    """bench/scenarios.py builds its deep-page URLs from the cursors the pages make
    (it broke once when the API's cursor changed; CI's bench smoke run found it)."""
    from bench import scenarios

    mapping = factories.mapping()
    syncs = [factories.sync(mapping, f"B-{n}") for n in range(3)]
    client = client_as(operator)
    tab = client.get(f"/sync/syncs/?after={scenarios.quote(scenarios.syncs_tab_cursor(rows=1))}")
    api = client.get(f"/sync/api/v1/syncs/?cursor={scenarios.api_cursor(rows=1)}")
    assert tab.status_code == api.status_code == 200
    assert len(api.json()["results"]) == len(syncs) - 1
