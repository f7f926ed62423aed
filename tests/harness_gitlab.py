"""The GitLab connector under the conformance suite (tests/conformance_harnesses.py),
against the in-process fake of GitLab's documented API (tests/fakes/gitlab.py): each
test gets a fresh fake with two projects as its scopes.

Opt-in, against your own GitLab instead: set ``SYNCWEB_CONFORMANCE_GITLAB_URL`` (the
instance, e.g. https://gitlab.com), ``SYNCWEB_CONFORMANCE_GITLAB_TOKEN`` (scope
api, role Reporter or more in both projects), ``SYNCWEB_CONFORMANCE_GITLAB_SCOPE``
and ``SYNCWEB_CONFORMANCE_GITLAB_OTHER_SCOPE`` (two projects it may fill with test
issues). The suite then creates and edits issues there (GitLab has no bulk delete:
they stay)."""

import itertools
import os

import pytest

from synchronizations.connectors import Connector, connector_for
from synchronizations.models import Repository
from tests.conformance_harnesses import Harness
from tests.fakes.gitlab import DEVELOPER, REPORTER, FakeGitLab
from trackers import free_port

_numbers = itertools.count(1)
# The list page the harness's connectors read (small, so that a test can create more
# issues than one page holds quickly).
PAGE_SIZE = 7
LIVE = "SYNCWEB_CONFORMANCE_GITLAB_"


def gitlab_repository(base_url: str, token: str, *, name: str = "", **settings) -> Repository:
    """A saved Repository of kind gitlab on ``base_url`` with ``token``."""
    repository = Repository(
        name=name or f"GitLab {next(_numbers)}",
        kind=Repository.Kind.GITLAB,
        base_url=base_url,
        settings={"page_size": PAGE_SIZE, **settings},
    )
    repository.set_secret(token)
    repository.save()
    return repository


@pytest.fixture
def gitlab_fake():
    """A running FakeGitLab with users ``syncweb`` (the token's, Developer in both
    projects) and ``alice`` (Reporter in ``acme/web``), projects ``acme/web`` and
    ``acme/ops``, labels bug / backend / frontend and milestones v1.0 / v2.0 in
    each, and ``fake.token`` (scope api)."""
    fake = FakeGitLab().start()
    fake.add_user("syncweb")
    fake.add_user("alice")
    fake.add_user("bob")
    for path in ("acme/web", "acme/ops"):
        project = fake.add_project(path, {"syncweb": DEVELOPER, "alice": REPORTER})
        for label in ("bug", "backend", "frontend"):
            fake.add_label(project, label)
        for title in ("v1.0", "v2.0"):
            fake.add_milestone(project, title)
    fake.token = fake.add_token("syncweb")
    yield fake
    fake.stop()


@pytest.fixture
def gitlab_harness(db, request) -> Harness:
    live = {name: os.environ.get(LIVE + name, "").strip() for name in ("URL", "TOKEN", "SCOPE", "OTHER_SCOPE")}
    if any(live.values()):  # one of them set means the user's own GitLab: never the fake instead, silently
        return _live_harness(live)
    fake = request.getfixturevalue("gitlab_fake")
    repository = gitlab_repository(fake.url, fake.token, name=f"GitLab conformance {next(_numbers)}")

    def variant(**changes) -> Connector:
        return connector_for(
            gitlab_repository(
                changes.get("base_url", fake.url),
                changes.get("token", fake.token),
                name=f"{repository.name} {next(_numbers)}",
            )
        )

    return Harness(
        connector=connector_for(repository),
        scope="acme/web",
        other_scope="acme/ops",
        title="title",
        base={"description": "Steps:\n1. open", "labels": ["backend", "bug"], "milestone": "v1.0"},
        edit={"state": "closed", "labels": ["frontend"], "assignees": ["alice"], "milestone": "v2.0"},
        # GitLab's own refusal (a 400 naming the field): a title over 255 characters.
        invalid={"title": "x" * 300},
        invalid_field="title",
        missing_key="acme/web#999999",
        unreachable=lambda: variant(base_url=f"http://127.0.0.1:{free_port()}"),
        refused=lambda: variant(token="glpat-not-a-token"),
        page_size=PAGE_SIZE,
        checks_scopes=True,
        missing_scope="acme/no-such-project",
        extra={"fake": fake},
    )


def _live_harness(live: dict) -> Harness:
    missing = [LIVE + name for name in ("URL", "TOKEN", "SCOPE", "OTHER_SCOPE") if not live[name]]
    if missing:
        pytest.fail(f"To run the conformance suite against your own GitLab, set {', '.join(missing)} too")
    repository = gitlab_repository(live["URL"], live["TOKEN"], name=f"GitLab live {next(_numbers)}")

    def variant(base_url: str, token: str) -> Connector:
        return connector_for(gitlab_repository(base_url, token, name=f"{repository.name} {next(_numbers)}"))

    return Harness(
        connector=connector_for(repository),
        scope=live["SCOPE"],
        other_scope=live["OTHER_SCOPE"],
        title="title",
        base={"description": "syncweb conformance suite"},
        edit={"state": "closed", "description": "edited by the syncweb conformance suite"},
        invalid={"title": "x" * 300},
        invalid_field="title",
        missing_key=f"{live['SCOPE']}#999999999",
        unreachable=lambda: variant(f"http://127.0.0.1:{free_port()}", live["TOKEN"]),
        refused=lambda: variant(live["URL"], "glpat-not-a-token"),
        page_size=PAGE_SIZE,
        checks_scopes=True,
        missing_scope=f"{live['SCOPE']}-no-such-project",
    )
