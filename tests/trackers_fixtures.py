"""Real Redmine and Roundup servers for the live tests (see trackers/): one of each per
test session, started on a free port in a temporary folder, stopped at the end.

Where one is not installed its fixture skips, saying why; with TRACKERS_REQUIRED=1 in
the environment (CI sets it) that is a failure instead, so that a CI run cannot pass
without running them."""

import itertools
import os
import uuid
from collections.abc import Iterator

import pytest

from trackers import RedmineServer, RoundupServer, free_port, redmine, roundup

_numbers = itertools.count(1)


def _unavailable(reason: str) -> None:
    if os.environ.get("TRACKERS_REQUIRED") == "1":
        pytest.fail(f"{reason} (and TRACKERS_REQUIRED=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redmine_server(tmp_path_factory) -> Iterator[RedmineServer]:
    """A started RedmineServer (attributes: base_url, api_key, admin_login,
    admin_password, user_login, user_password, user_api_key, project, project_id,
    custom_field, custom_field_id, user_id, ...). Shared by the session: create what a
    test changes in a project of its own (``redmine_project``) or with unique names."""
    available, reason = redmine.is_available()
    if not available:
        _unavailable(reason)
    with RedmineServer(tmp_path_factory.mktemp("redmine"), free_port()) as server:
        yield server


@pytest.fixture(scope="session")
def roundup_server(tmp_path_factory) -> Iterator[RoundupServer]:
    """A started RoundupServer (attributes: base_url, rest_url, origin, rest_headers,
    admin_login, admin_password, user_login, user_password, scope). Shared by the
    session: a test sees the issues of the tests before it."""
    available, reason = roundup.is_available()
    if not available:
        _unavailable(reason)
    with RoundupServer(tmp_path_factory.mktemp("roundup"), free_port()) as server:
        yield server


@pytest.fixture
def unique_name() -> str:
    """A name no other test of this run uses, such as "t7-3f9a0c": a letter first, then
    lower case letters, digits and a dash (a valid Redmine project identifier)."""
    return f"t{next(_numbers)}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def redmine_project(redmine_server, unique_name) -> dict:
    """A fresh Redmine project for one test, set up like the seeded one (every tracker,
    the custom field, the second user a Developer): Redmine's JSON of it, with "id" and
    "identifier" (the scope)."""
    return redmine_server.create_project(unique_name, name=f"Test {unique_name}")
