"""The API's rate limit (api/throttling.py): counted in Redis, so that every web
process shares it; per process while Redis does not answer."""

import pytest
from django.core.cache import caches

from api import throttling

pytestmark = pytest.mark.django_db
URL = "/sync/api/v1/mappings/"


@pytest.fixture
def shared(redis_server, monkeypatch):
    """Redis answering, and this process not remembering that it once did not."""
    monkeypatch.setattr(throttling._Shared, "retry_at", 0.0)
    return redis_server


def test_the_counts_are_shared_by_every_process(api_as, settings, shared):
    settings.SYNCWEB_API_RATE = "2/minute"
    client = api_as("viewer")
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    assert client.get(URL).status_code == 429
    caches[throttling.LOCAL_CACHE].clear()  # what another web process knows: nothing of its own
    assert client.get(URL).status_code == 429


def test_a_request_right_after_a_429_is_refused_too(api_as, settings, shared):
    settings.SYNCWEB_API_RATE = "1/minute"
    client = api_as("viewer")
    assert [client.get(URL).status_code for _ in range(4)] == [200, 429, 429, 429]


def test_without_redis_it_counts_per_process_and_never_fails(api_as, settings, monkeypatch):
    monkeypatch.setattr(throttling._Shared, "retry_at", 0.0)
    settings.CACHES = {
        **settings.CACHES,
        throttling.SHARED_CACHE: {**settings.CACHES[throttling.SHARED_CACHE], "LOCATION": "redis://127.0.0.1:1/0"},
    }
    settings.SYNCWEB_API_RATE = "2/minute"
    client, other = api_as("viewer"), api_as("operator")
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 429]
    assert other.get(URL).status_code == 200
    assert throttling._Shared.retry_at > 0  # Redis is asked again only after a while
