"""How each connector is put under the conformance suite (test_connector_conformance.py):
a Harness per connector kind, made by a fixture named in HARNESSES. A live tracker's
fixture skips, saying why, where the tracker is not installed."""

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from synchronizations.connectors import Artifact, Connector, connector_for
from synchronizations.models import Repository

_numbers = itertools.count(1)


@dataclass
class Harness:
    """One connector under test and what its tracker needs.

    ``scope`` / ``other_scope``: two scopes that exist and do not overlap (fresh for
    each test where the tracker allows). ``title``: the name of the title field.
    ``base``: the other fields a valid new artifact needs. ``edit``: a valid edit of
    fields other than the title. ``invalid``: a value the tracker refuses, in field
    ``invalid_field``. ``unreachable`` / ``refused``: the same repository with the
    tracker unreachable / with credentials it refuses. ``page_size``: the tracker's
    list page size as the connector uses it. ``checks_scopes``: whether check() can
    tell a missing scope and a missing field (``missing_scope`` is one)."""

    connector: Connector
    scope: str
    other_scope: str
    title: str
    base: dict
    edit: dict
    invalid: dict
    invalid_field: str
    missing_key: str
    unreachable: Callable[[], Connector]
    refused: Callable[[], Connector]
    page_size: int = 500
    checks_scopes: bool = False
    missing_scope: str = "NO_SUCH_SCOPE"
    extra: dict = field(default_factory=dict)

    def new_fields(self, title: str) -> dict:
        return {self.title: title, **self.base}

    def all_changes(self, scope: str, cursor: str) -> list[Artifact]:
        """Every change after ``cursor``, following the cursor to the end."""
        seen = []
        for _ in range(1000):
            changes = self.connector.changed_since(scope, cursor)
            seen += changes.artifacts
            if not changes.artifacts or changes.cursor == cursor:
                return seen
            cursor = changes.cursor
        raise AssertionError("changed_since never reached the end")


@pytest.fixture
def sandbox_harness(db) -> Harness:
    number = next(_numbers)

    def make(**settings) -> Connector:
        repository, _ = Repository.objects.update_or_create(
            name=f"Conformance {number}",
            defaults={
                "kind": "sandbox",
                "settings": {"key_prefix": "C", "allowed": {"status": ["Open", "Done"]}, **settings},
            },
        )
        return connector_for(repository)

    return Harness(
        connector=make(),
        scope="WEB",
        other_scope="OPS",
        title="title",
        base={"status": "Open"},
        edit={"status": "Done"},
        invalid={"status": "Blocked"},
        invalid_field="status",
        missing_key="WEB-404",
        unreachable=lambda: make(offline=True),
        refused=lambda: make(refuse_credentials=True),
        page_size=500,
    )


# Kind -> the name of the fixture that makes its Harness.
HARNESSES = {"sandbox": "sandbox_harness", "redmine": "redmine_harness", "roundup": "roundup_harness"}
HARNESSES["gitlab"] = "gitlab_harness"
HARNESSES["github"] = "github_harness"  # tests/harness_github.py, against a fake of GitHub
HARNESSES |= {"jira": "jira_harness", "jira-server": "jira_server_harness"}
