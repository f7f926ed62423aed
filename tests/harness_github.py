"""The GitHub connector under the conformance suite (tests/conformance_harnesses.py)
and its own tests, against the fake of tests/fakes/github.py: a fresh fake per test,
every answer of which is checked against GitHub's OpenAPI description at the end of
the test (tests/fakes/github_openapi.py; a test whose fake gave an answer the
description does not allow fails at teardown, saying which and why).

Where the description cannot be downloaded, the tests still run and the check is
skipped, saying why (test_github_connector.py's test of the check skips with the
reason); with ``CI`` set, that is a failure instead: CI must run the check."""

import itertools
import os
import warnings
from collections.abc import Callable

import pytest

from synchronizations.connectors import Connector, connector_for
from synchronizations.models import Repository
from tests.conformance_harnesses import Harness
from tests.fakes.github import FakeGitHub
from tests.fakes.github_openapi import Description, Unavailable
from trackers import free_port

TOKEN = "github_pat_11SYNCWEB0test0token"
BOT = "syncweb-bot"
OWNER = "octo"
SCOPE = f"{OWNER}/web"
OTHER_SCOPE = f"{OWNER}/ops"
# Who may be assigned (push access) and who may not (read only).
ASSIGNABLE = ("alice", "bob")
READER = "carol"

_numbers = itertools.count(1)


class OpenAPICheck:
    """The session's check of the fakes' answers: the description, or why it is
    missing (``reason``)."""

    def __init__(self, description: Description | None, reason: str = ""):
        self.description = description
        self.reason = reason

    def problems(self, exchanges) -> list[str]:
        """What the description does not allow in ``exchanges`` ([] when it is missing)."""
        return self.description.problems(exchanges) if self.description else []


def openapi_check(load: Callable[[], Description] = Description.load, environ=os.environ) -> OpenAPICheck:
    """The check, with the description ``load()`` gives. When it cannot be had: the
    tests run unchecked, with a warning saying why, except in CI (``CI`` set in
    ``environ``), where that fails."""
    try:
        return OpenAPICheck(load())
    except Unavailable as exc:
        if environ.get("CI"):
            pytest.fail(f"GitHub's OpenAPI description is needed in CI to check the fake's answers: {exc}")
        reason = f"the GitHub fake's answers are not checked against GitHub's OpenAPI description: {exc}"
        warnings.warn(reason, stacklevel=1)
        return OpenAPICheck(None, reason)


@pytest.fixture(scope="session")
def github_openapi() -> OpenAPICheck:
    """GitHub's OpenAPI description, downloaded once (cached under var/cache/) and
    parsed once per session (see openapi_check())."""
    return openapi_check()


def build_scene(fake: FakeGitHub) -> FakeGitHub:
    """Two public repositories of ``octo`` (web and ops, each with labels bug,
    enhancement and documentation and milestones v1.0 and v2.0), a private one
    (``octo/secret``) our token does not see, users alice and bob with push access,
    carol with read access, and our token (its user has push access to web and ops)."""
    roles = {BOT: "write", **dict.fromkeys(ASSIGNABLE, "write"), READER: "read"}
    fake.add_repo(OWNER, "web", roles=roles)
    fake.add_repo(OWNER, "ops", roles=roles)
    fake.add_repo(OWNER, "secret", private=True)
    fake.add_token(TOKEN, BOT)
    return fake


@pytest.fixture
def github_fake(github_openapi):
    """A FakeGitHub with build_scene()'s scene; at teardown, each answer it gave is
    checked against the description."""
    fake = build_scene(FakeGitHub()).start()
    yield fake
    fake.stop()
    problems = github_openapi.problems(fake.exchanges)
    if problems:
        shown = "\n".join(problems[:20])
        pytest.fail(f"{len(problems)} answer(s) of the GitHub fake break GitHub's OpenAPI description:\n{shown}")


def github_repository(fake: FakeGitHub, *, name: str = "", token: str = TOKEN, **changes) -> Repository:
    """A saved Repository of kind github on ``fake`` with ``token``; ``changes``
    override fields (``base_url``, ``settings``). Writes are not spaced unless the
    settings say so."""
    settings = {"write_interval": 0, **changes.pop("settings", {})}
    repository = Repository(
        name=name or f"GitHub {next(_numbers)}",
        kind=Repository.Kind.GITHUB,
        base_url=changes.pop("base_url", fake.api_url),
        settings=settings,
        **changes,
    )
    repository.set_secret(token)
    repository.save()
    return repository


def live_github(environ=os.environ) -> dict | None:
    """The user's own GitHub to run the conformance suite against instead of the fake
    (opt-in), named as for GitLab and Jira: ``SYNCWEB_CONFORMANCE_GITHUB_TOKEN`` (a
    token that may write issues), ``SYNCWEB_CONFORMANCE_GITHUB_SCOPE`` and
    ``SYNCWEB_CONFORMANCE_GITHUB_OTHER_SCOPE`` (two repositories, ``owner/repo``, the
    suite may fill with test issues; each needs the labels ``bug`` and
    ``enhancement``, as new repositories have) and ``SYNCWEB_CONFORMANCE_GITHUB_URL``
    (optional, default https://api.github.com; a server's ``https://HOST/api/v3``).
    None when none of them is set; a test failure naming what is missing when some
    are."""
    names = ("URL", "TOKEN", "SCOPE", "OTHER_SCOPE")
    given = {name: environ.get(f"SYNCWEB_CONFORMANCE_GITHUB_{name}", "").strip() for name in names}
    if not any(given.values()):
        return None
    if not (given["TOKEN"] and given["SCOPE"] and given["OTHER_SCOPE"]):
        pytest.fail(
            "To run the conformance suite against your own GitHub, set SYNCWEB_CONFORMANCE_GITHUB_TOKEN, "
            "SYNCWEB_CONFORMANCE_GITHUB_SCOPE and SYNCWEB_CONFORMANCE_GITHUB_OTHER_SCOPE (two repositories, "
            "owner/repo, it may fill with test issues); SYNCWEB_CONFORMANCE_GITHUB_URL is optional "
            "(default https://api.github.com)."
        )
    scopes = [given["SCOPE"], given["OTHER_SCOPE"]]
    return {"url": given["URL"] or "https://api.github.com", "token": given["TOKEN"], "scopes": scopes}


def _live_harness(live: dict) -> Harness:
    """The conformance suite's harness on the user's own GitHub (see live_github()).
    Writes are spaced by a second, as GitHub asks; pages are of 10 issues, so that
    reading past a page creates only 12."""
    scope, other = live["scopes"]
    owner = scope.split("/")[0]

    def make(**changes) -> Connector:
        repository = Repository(
            name=f"GitHub live conformance {next(_numbers)}",
            kind=Repository.Kind.GITHUB,
            base_url=changes.get("base_url", live["url"]),
            settings={"page_size": 10, "write_interval": 1},
        )
        repository.set_secret(changes.get("token", live["token"]))
        repository.save()
        return connector_for(repository)

    return Harness(
        connector=make(),
        scope=scope,
        other_scope=other,
        title="title",
        base={"body": "Made by syncweb's conformance suite.", "labels": ["bug"]},
        edit={"status": "not_planned", "labels": ["bug", "enhancement"]},
        invalid={"title": "x" * 300},
        invalid_field="title",
        missing_key=f"{scope}#999999999",
        unreachable=lambda: make(base_url=f"http://127.0.0.1:{free_port()}"),
        refused=lambda: make(token="github_pat_" + "0" * 30),
        page_size=10,
        checks_scopes=True,
        missing_scope=f"{owner}/syncweb-conformance-no-such-repository",
    )


@pytest.fixture
def github_harness(request, db) -> Harness:
    """The fake's harness, or the user's own GitHub's when live_github() says so."""
    live = live_github()
    if live:
        return _live_harness(live)
    github_fake = request.getfixturevalue("github_fake")
    repository = github_repository(github_fake, name=f"GitHub conformance {next(_numbers)}")

    def variant(**changes) -> Connector:
        return connector_for(github_repository(github_fake, name=f"{repository.name} {next(_numbers)}", **changes))

    return Harness(
        connector=connector_for(repository),
        scope=SCOPE,
        other_scope=OTHER_SCOPE,
        title="title",
        base={"body": "Steps to reproduce:\n1. open it", "labels": ["bug"]},
        edit={"status": "not_planned", "assignees": ["alice"], "milestone": "v1.0", "labels": ["bug", "enhancement"]},
        # GitHub's own refusal (a 422 naming the field): a title over 256 characters.
        invalid={"title": "x" * 300},
        invalid_field="title",
        missing_key=f"{SCOPE}#999",
        unreachable=lambda: variant(base_url=f"http://127.0.0.1:{free_port()}"),
        refused=lambda: variant(token="github_pat_wrong"),
        page_size=100,
        checks_scopes=True,
        missing_scope=f"{OWNER}/no-such-repository",
    )
