"""The Redmine connector under the conformance suite (tests/conformance_harnesses.py),
against the live Redmine of tests/trackers_fixtures.py (skips, saying why, where
Redmine is not installed). Each test gets two fresh projects as its scopes."""

import itertools

import pytest

from synchronizations.connectors import Connector, connector_for
from synchronizations.models import Repository
from tests.conformance_harnesses import Harness
from trackers import free_port

_numbers = itertools.count(1)


def redmine_repository(server, *, name: str = "", api_key: str | None = None, **changes) -> Repository:
    """A saved Repository of kind redmine on ``server`` (its admin's API key unless
    ``api_key``); ``changes`` override fields (``base_url``, ``settings``)."""
    repository = Repository(
        name=name or f"Redmine {next(_numbers)}",
        kind=Repository.Kind.REDMINE,
        base_url=changes.pop("base_url", server.base_url),
        settings=changes.pop("settings", {}),
        **changes,
    )
    repository.set_secret(server.api_key if api_key is None else api_key)
    repository.save()
    return repository


@pytest.fixture
def redmine_harness(db, redmine_server, redmine_project, unique_name) -> Harness:
    other = redmine_server.create_project(f"{unique_name}-other")
    repository = redmine_repository(redmine_server, name=f"Redmine conformance {unique_name}")

    def variant(**changes) -> Connector:
        return connector_for(redmine_repository(redmine_server, name=f"{repository.name} {next(_numbers)}", **changes))

    return Harness(
        connector=connector_for(repository),
        scope=redmine_project["identifier"],
        other_scope=other["identifier"],
        title="title",
        base={"priority": "High", redmine_server.custom_field: "ACME"},
        edit={"status": "In Progress", "assignee": redmine_server.user_login, redmine_server.custom_field: "Globex"},
        # Redmine's own refusal (a 422): a subject longer than 255 characters.
        invalid={"title": "x" * 300},
        invalid_field="title",
        missing_key="#999999",
        unreachable=lambda: variant(base_url=f"http://127.0.0.1:{free_port()}/"),
        refused=lambda: variant(api_key="0" * 40),
        page_size=100,
        checks_scopes=True,
        missing_scope="no-such-project",
    )
