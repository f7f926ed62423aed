"""Fixtures of the API tests: a client carrying a role's personal API token."""

import pytest
from django.core.cache import cache
from django.test import Client

from api.models import ApiToken


class TokenClient(Client):
    """A test client that sends ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, token: str, **defaults):
        super().__init__(HTTP_AUTHORIZATION=f"Bearer {token}", **defaults)
        self.token = token

    def post_json(self, path: str, data, **extra):
        return self.post(path, data, content_type="application/json", **extra)


@pytest.fixture
def api_as(make_user, settings):
    """``api_as("operator")``: a TokenClient with a token of a new user in that role
    (None: a user without a role). Redis is unreachable, so nothing waits on it."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache.clear()

    def make(role: str | None, **token_fields) -> TokenClient:
        user = make_user(role, username=f"api-{role}")
        _, plain = ApiToken.objects.issue(user, f"{role} token", **token_fields)
        return TokenClient(plain)

    return make
