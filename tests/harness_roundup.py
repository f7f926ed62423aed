"""The Roundup connector under the conformance suite, against the live tracker of the
``roundup_server`` fixture (tests/trackers_fixtures.py; it skips, saying why, where
Roundup is not installed).

The connector logs in as the tracker's second user (role User: the least a sync
account needs); the administrator only prepares what a test needs, such as the two
keywords that are its scopes, fresh for each test."""

import itertools

import httpx
import pytest

from synchronizations.connectors import Connector, connector_for
from synchronizations.models import Repository
from tests.conformance_harnesses import Harness
from trackers import free_port

_numbers = itertools.count(1)
# The Roundup list page the harness's connectors read (small, so that a test can
# create more issues than one page holds).
PAGE_SIZE = 5


def roundup_admin(server) -> httpx.Client:
    """A REST client of ``server`` as its administrator."""
    return httpx.Client(
        base_url=server.rest_url,
        auth=(server.admin_login, server.admin_password),
        headers=server.rest_headers,
        timeout=30,
    )


def create_keyword(server, name: str) -> str:
    """Creates keyword ``name`` in ``server``; its id."""
    with roundup_admin(server) as admin:
        response = admin.post("data/keyword", json={"name": name})
    response.raise_for_status()
    return response.json()["data"]["id"]


def roundup_connector(server, name: str, **overrides) -> Connector:
    """A connector for a Repository named ``name`` on ``server`` as its second user;
    ``overrides``: Repository fields to change (``password`` sets the secret)."""
    password = overrides.pop("password", server.user_password)
    settings = {"page_size": PAGE_SIZE, "settle_seconds": 1, **overrides.pop("settings", {})}
    repository, _ = Repository.objects.update_or_create(
        name=name,
        defaults={
            "kind": "roundup",
            "base_url": server.base_url,
            "username": server.user_login,
            "settings": settings,
            **overrides,
        },
    )
    repository.set_secret(password)
    repository.save()
    return connector_for(repository)


@pytest.fixture
def roundup_harness(db, roundup_server, unique_name) -> Harness:
    number = next(_numbers)
    name = f"Roundup conformance {number}"
    scope, other_scope = f"{unique_name}-in", f"{unique_name}-out"
    create_keyword(roundup_server, scope)
    create_keyword(roundup_server, other_scope)
    return Harness(
        connector=roundup_connector(roundup_server, name),
        scope=scope,
        other_scope=other_scope,
        title="title",
        base={"status": "unread", "priority": "bug"},
        edit={"status": "chatting", "priority": "urgent", "assignedto": roundup_server.admin_login},
        invalid={"status": "no-such-status"},
        invalid_field="status",
        missing_key="issue999999",
        unreachable=lambda: roundup_connector(roundup_server, name, base_url=f"http://127.0.0.1:{free_port()}/x/"),
        refused=lambda: roundup_connector(roundup_server, name, password="not-the-password"),
        page_size=PAGE_SIZE,
        checks_scopes=True,
        missing_scope=f"{unique_name}-missing",
        extra={"server": roundup_server},
    )
