"""Bad input anywhere gives a page with a message (or a 4xx), never a 500."""

import pytest

from synchronizations.models import SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db

URLS = [
    "/sync/syncs/?sort=<script>&page=-1&status=%00",
    "/sync/syncs/?mapping=99999999999999999999999&q=%F0%9F%92%A5",
    "/sync/syncs/?page=99999999999999999999",
    "/sync/syncs/1x/",
    "/sync/syncs/99999999999999999999/",
    "/sync/metrics/?start=0001-01-01&days=5",
    "/sync/metrics/?end=9999-12-31&days=5",
    "/sync/metrics/?start=9999-12-31&days=1",
    "/sync/metrics/daily.json?start=0001-01-01&days=1096",
    "/sync/metrics/grouped.json?end=9999-12-31",
    "/sync/metrics/daily.csv?start=abc",
    "/sync/metrics/?mapping=99999999999999999999",
    "/sync/logs/?before=9999-12-31T23:59:59|1&since=0001-01-01",
    "/sync/logs/?before=2026-01-01T00:00:00+99:00|5",
    "/sync/logs/?sync=99999999999999999999&until=2026-13-45",
    "/sync/mappings/99999999999999999999/",
    "/sync/operations/99999999999999999999/",
    "/sync/?x=%00",
]


@pytest.mark.parametrize("url", URLS)
def test_never_a_server_error(client_as, viewer, url):
    mapping = factories.mapping()
    factories.sync(mapping, "WEB-1", SyncStatus.ERROR)
    client = client_as(viewer)
    client.raise_request_exception = False
    response = client.get(url)
    assert response.status_code < 500, (url, response.status_code)


@pytest.mark.parametrize(
    "form",
    [
        {"action": "retry", "ids": ["99999999999999999999999"]},
        {"action": "retry", "select_all": "1", "mapping": "99999999999999999999", "confirmed": "1"},
        {"action": "", "ids": ["1"]},
        {"action": "clear", "select_all": "1", "status": "error", "q": "%00", "confirmed": "1"},
    ],
)
def test_actions_never_fail_with_a_server_error(client_as, operator, form):
    factories.sync(factories.mapping(), "WEB-1", SyncStatus.ERROR)
    client = client_as(operator)
    client.raise_request_exception = False
    assert client.post("/sync/syncs/actions/", form).status_code < 500
