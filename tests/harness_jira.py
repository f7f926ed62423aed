"""The Jira connector under the conformance suite (tests/conformance_harnesses.py),
Cloud (kind "jira") and Server / Data Center ("jira-server"), each against a fresh
in-process fake of Jira's documented REST API (tests/fakes/jira.py) — or, opt-in,
against a real Jira named by the environment:

    SYNCWEB_CONFORMANCE_JIRA_URL           https://example.atlassian.net
    SYNCWEB_CONFORMANCE_JIRA_USER          the account's e-mail (Cloud)
    SYNCWEB_CONFORMANCE_JIRA_TOKEN         its API token
    SYNCWEB_CONFORMANCE_JIRA_SCOPE         a project key (or KEY: JQL) to write in
    SYNCWEB_CONFORMANCE_JIRA_OTHER_SCOPE   a second project key

and the same with ``JIRA_SERVER_`` for Server / Data Center (``TOKEN`` a personal
access token, no ``USER``). The suite creates issues there (more than a page of
them) and edits them; it never deletes anything."""

import itertools
import os

import pytest

from synchronizations.connectors import Connector, connector_for
from synchronizations.models import Repository
from tests.conformance_harnesses import Harness
from tests.fakes.jira import FakeJira
from trackers import free_port

_numbers = itertools.count(1)
# The search page the harness's connectors read (small, so that a test can create
# more issues than one page holds).
PAGE_SIZE = 5


def jira_connector(fake: FakeJira, name: str = "", **changes) -> Connector:
    """A connector on ``fake`` (its credentials unless ``secret`` / ``username``);
    ``changes`` override Repository fields, ``settings`` merges into the settings."""
    username, secret = fake.credentials()
    settings = {"deployment": fake.flavour, "page_size": PAGE_SIZE, **changes.pop("settings", {})}
    repository = Repository(
        name=name or f"Jira {next(_numbers)}",
        kind="jira",
        base_url=changes.pop("base_url", fake.url),
        username=changes.pop("username", username),
        settings=settings,
    )
    repository.set_secret(changes.pop("secret", secret))
    repository.save()
    return connector_for(repository)


def _live(prefix: str, flavour: str) -> Harness | None:
    """The harness of a real Jira named by SYNCWEB_CONFORMANCE_<prefix>_*, None
    when the environment names none."""
    names = ("URL", "TOKEN", "SCOPE", "OTHER_SCOPE", *(("USER",) if flavour == "cloud" else ()))
    env = {name: os.environ.get(f"SYNCWEB_CONFORMANCE_{prefix}_{name}", "").strip() for name in names}
    if not any(env.values()):
        return None
    # One of them set means the user's own Jira: never the fake instead, silently.
    missing = [f"SYNCWEB_CONFORMANCE_{prefix}_{name}" for name, value in env.items() if not value]
    if missing:
        pytest.fail(f"To run the conformance suite against your own Jira, set {', '.join(missing)} too")
    other = env["OTHER_SCOPE"]
    number = next(_numbers)

    def make(**changes) -> Connector:
        repository = Repository(
            name=f"Live Jira {number} {next(_numbers)}",
            kind="jira",
            base_url=changes.get("base_url", env["URL"]),
            username=os.environ.get(f"SYNCWEB_CONFORMANCE_{prefix}_USER", ""),
            settings={"deployment": flavour},
        )
        repository.set_secret(changes.get("secret", env["TOKEN"]))
        repository.save()
        return connector_for(repository)

    project = env["SCOPE"].split(":")[0].strip().upper()
    return Harness(
        connector=make(),
        scope=env["SCOPE"],
        other_scope=other,
        title="title",
        base={},
        edit={"labels": ["syncweb-conformance"]},
        invalid={"priority": "No such priority (syncweb)"},
        invalid_field="priority",
        missing_key=f"{project}-999999",
        unreachable=lambda: make(base_url=f"http://127.0.0.1:{free_port()}"),
        refused=lambda: make(secret="not-the-token"),
        page_size=100,
        checks_scopes=True,
        missing_scope="NOSUCHPROJECT",
    )


def _harness(request, flavour: str) -> Harness:
    live = _live("JIRA" if flavour == "cloud" else "JIRA_SERVER", flavour)
    if live is not None:
        return live
    fake = FakeJira(flavour).start()
    request.addfinalizer(fake.stop)
    number = next(_numbers)
    name = f"Jira {flavour} conformance {number}"
    assignee = fake.users[0]["accountId" if flavour == "cloud" else "name"]
    return Harness(
        connector=jira_connector(fake, name),
        scope="WEB",
        other_scope="OPS",
        title="title",
        base={"status": "To Do", "priority": "High", "labels": ["alpha", "beta"], "Customer": "ACME"},
        edit={
            "status": "In Progress",
            "priority": "Low",
            "assignee": assignee,
            "description": "First paragraph.\n\nA line\nand a hard break.",
            "Customer": "Globex",
            "Severity": "Major",
        },
        # Jira's own refusal: a 400 naming the field.
        invalid={"priority": "Urgent-ish"},
        invalid_field="priority",
        missing_key="WEB-999999",
        unreachable=lambda: jira_connector(
            fake, f"{name} down {next(_numbers)}", base_url=f"http://127.0.0.1:{free_port()}"
        ),
        refused=lambda: jira_connector(fake, f"{name} refused {next(_numbers)}", secret="not-the-token"),
        page_size=PAGE_SIZE,
        checks_scopes=True,
        missing_scope="NOSUCH",
        extra={"fake": fake},
    )


@pytest.fixture
def jira_harness(db, request) -> Harness:
    return _harness(request, "cloud")


@pytest.fixture
def jira_server_harness(db, request) -> Harness:
    return _harness(request, "server")
