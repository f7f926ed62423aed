"""What the GitHub connector does beyond the conformance suite, against the fake of
GitHub's API (tests/fakes/github.py, its answers checked against GitHub's OpenAPI
description at each test's end: tests/harness_github.py): fields both ways, names
refused before writing, pull requests, deleted and moved issues, rate limits,
conditional requests, concurrent edits, change detection by ``since``, get_many,
GitHub Enterprise Server, and the engine syncing a sandbox with it. The first tests
need no fake: they read the connector's own formats."""

import io
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.core.exceptions import ValidationError

from synchronizations.connectors import connector_for
from synchronizations.connectors import github as github_module
from synchronizations.connectors.github import (
    CURSOR_CHARS,
    Cursor,
    GitHubConnector,
    Scope,
    parse_key,
    web_base,
)
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PartlyCreated,
    PermanentError,
    RepositoryError,
    TransientError,
)
from synchronizations.models import Mapping, Repository, SandboxArtifact, Synchronization, SyncStatus
from tests.fakes import Request, Response
from tests.fakes import github_openapi as github_openapi_module
from tests.fakes.github import FakeGitHub
from tests.fakes.github_openapi import CACHE, INTEGRITY, Description, Unavailable
from tests.harness_github import (
    BOT,
    OTHER_SCOPE,
    OWNER,
    SCOPE,
    TOKEN,
    build_scene,
    github_repository,
    live_github,
    openapi_check,
)

# --- the connector's own formats (no fake needed) ------------------------------------


@pytest.mark.parametrize(
    ("text", "owner", "repo"),
    [("octo/web", "octo", "web"), (" Octo-Org/hello.world ", "Octo-Org", "hello.world"),
     ("octo/.github", "octo", ".github"), ("a_b/c_d-1", "a_b", "c_d-1")],
)  # fmt: skip
def test_a_scope_is_owner_slash_repository(text, owner, repo):
    assert Scope.parse(text) == Scope(owner, repo)


@pytest.mark.parametrize("text", ["", "octo", "octo/", "/web", "octo/web/issues", "octo/..", "octo web/x", "o/w#1"])
def test_anything_else_is_not_a_scope(text):
    with pytest.raises(PermanentError, match="not a GitHub scope"):
        Scope.parse(text)


def test_keys_are_owner_repository_and_number():
    assert parse_key("octo/web#42") == (Scope("octo", "web"), 42)
    assert [parse_key(key) for key in ("octo/web#0", "octo/web", "#42", "octo/web#x", "web#4", "")] == [None] * 6


@pytest.mark.parametrize(
    ("base_url", "web"),
    [
        ("", "https://github.com"),
        ("https://api.github.com/", "https://github.com"),
        ("https://github.example.com/api/v3", "https://github.example.com"),
        ("https://github.example.com/api/v3/", "https://github.example.com"),
        ("https://api.acme.ghe.com", "https://acme.ghe.com"),
        ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
    ],
)
def test_issue_pages_are_on_the_web_host_of_the_api(base_url, web):
    assert web_base(base_url) == web


def test_a_cursor_is_an_instant_with_the_issues_already_returned_there():
    moment = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    cursor = Cursor(moment, {12: "a1b2c3", 7: "0f9e8d"})
    assert cursor.text() == "2024-05-01T10:00:00Z|7.0f9e8d,12.a1b2c3"
    assert Cursor.parse(cursor.text()) == cursor
    assert Cursor.parse("2024-05-01T10:00:00Z") == Cursor(moment)
    assert [Cursor.parse(text) for text in ("", "42", "2024-05-01", "garbage|1.abcdef")] == [Cursor()] * 4
    assert Cursor.parse("2024-05-01T10:00:00Z|1.xyz") == Cursor(moment)  # unreadable entries: none
    crowded = Cursor(moment, {number: "abcdef" for number in range(1000, 1100)})
    assert len(crowded.text()) <= CURSOR_CHARS
    assert set(Cursor.parse(crowded.text()).seen) < set(crowded.seen)  # those that fit


def test_scopes_overlap_when_they_name_the_same_repository_in_any_case():
    assert GitHubConnector.scopes_overlap("octo/web", "Octo/WEB")
    assert not GitHubConnector.scopes_overlap("octo/web", "octo/ops")
    assert not GitHubConnector.scopes_overlap("octo/web", "other/web")
    assert GitHubConnector.scopes_overlap("not a scope", " not a scope ")


@pytest.mark.parametrize(
    ("settings", "name"),
    [({"page_size": 101}, "page_size"), ({"page_size": "100"}, "page_size"),
     ({"overlap_seconds": -1}, "overlap_seconds"), ({"overlap_seconds": True}, "overlap_seconds"),
     ({"write_interval": 61}, "write_interval")],
)  # fmt: skip
def test_a_bad_setting_is_refused_naming_it(db, settings, name):
    repository = Repository.objects.create(name="G", kind="github", settings=settings)
    with pytest.raises(PermanentError, match=f"setting {name} must be"):
        connector_for(repository)


def test_the_base_url_may_be_left_empty_for_api_github_com(db):
    repository = Repository(name="G", kind=Repository.Kind.GITHUB)
    repository.full_clean()  # GitHub needs no address
    assert connector_for(repository).url("octo/web#3") == "https://github.com/octo/web/issues/3"
    with pytest.raises(ValidationError):
        Repository(name="J", kind=Repository.Kind.JIRA).full_clean()


def test_what_github_refuses_names_the_field_in_our_words(db):
    connector = connector_for(Repository.objects.create(name="G", kind="github"))

    def refusal(body) -> tuple[str, str]:
        return connector.refused_field(httpx.Response(422, json=body))

    field, said = refusal(
        {"message": "Validation Failed", "documentation_url": "x",
         "errors": [{"value": "carol", "resource": "Issue", "field": "assignees", "code": "invalid"}]}
    )  # fmt: skip
    assert field == "assignees" and "Issue assignees invalid ('carol')" in said
    assert refusal({"message": 'Invalid request.\n\n"title" wasn\'t supplied.'})[0] == "title"
    assert refusal({"message": "Validation Failed", "errors": ["something went wrong"]}) == (
        "",
        "Validation Failed; something went wrong",
    )


# --- against the fake -------------------------------------------------------------------


@pytest.fixture
def make_connector(db, github_fake):
    def make(**changes) -> GitHubConnector:
        return connector_for(github_repository(github_fake, **changes))

    return make


@pytest.fixture
def connector(make_connector) -> GitHubConnector:
    return make_connector()


def _writes(fake: FakeGitHub) -> list[Request]:
    return [request for request in fake.seen if request.method in ("POST", "PATCH")]


def test_fields_are_written_and_read_by_name(connector, github_fake):
    created = connector.create(
        SCOPE,
        {"title": "Crash", "body": "Steps\nmore", "labels": ["Bug", "documentation"], "assignees": ["bob", "alice"],
         "milestone": "v2.0", "status": "not_planned"},
    )  # fmt: skip
    number = parse_key(created.key)[1]
    issue = github_fake.issue(OWNER, "web", number)
    assert (issue.title, issue.body, issue.state, issue.state_reason) == (
        "Crash",
        "Steps\nmore",
        "closed",
        "not_planned",
    )
    assert (issue.labels, issue.assignees) == (["bug", "documentation"], ["bob", "alice"])
    assert github_fake.repo(OWNER, "web").milestones[issue.milestone].title == "v2.0"
    assert created.fields == {
        "title": "Crash", "body": "Steps\nmore", "state": "closed", "state_reason": "not_planned",
        "status": "not_planned", "labels": ["bug", "documentation"], "assignees": ["alice", "bob"],
        "assignee": "bob", "milestone": "v2.0",
    }  # fmt: skip
    assert connector.get(created.key) == created
    assert created.url == f"{github_fake.url}/{SCOPE}/issues/{number}" == connector.url(created.key)
    # What people do in GitHub reads the same way.
    github_fake.edit_issue(
        OWNER, "web", number, by="alice", body="Line\r\nend", labels=[], assignees=[], milestone=None
    )
    github_fake.edit_issue(OWNER, "web", number, by="alice", state="open")
    fields = connector.get(created.key).fields
    assert fields["body"] == "Line\nend" and fields["labels"] == [] and fields["assignees"] == []
    assert (fields["assignee"], fields["milestone"], fields["state"], fields["state_reason"], fields["status"]) == (
        "", "", "open", "reopened", "open",
    )  # fmt: skip
    github_fake.edit_issue(OWNER, "web", number, state="closed", state_reason="duplicate")
    assert connector.get(created.key).fields["status"] == "duplicate"
    github_fake.issue(OWNER, "web", number).state_reason = None  # closed before GitHub kept reasons
    assert connector.get(created.key).fields["status"] == "completed"


def test_state_and_reason_are_written_as_github_takes_them(connector, github_fake):
    created = connector.create(SCOPE, {"title": "t"})
    number = parse_key(created.key)[1]
    done = connector.update(created.key, {"state": "closed"}, created.version)
    assert (done.fields["state"], done.fields["state_reason"], done.fields["status"]) == (
        "closed", "completed", "completed",
    )  # fmt: skip
    # A closed issue's reason changes only with a change of state: reopened, closed again.
    patches = len(_writes(github_fake))
    dropped = connector.update(created.key, {"state_reason": "not_planned"}, done.version)
    assert dropped.fields["status"] == "not_planned"
    assert [request.json for request in _writes(github_fake)[patches:]] == [
        {"state": "open"}, {"state": "closed", "state_reason": "not_planned"},
    ]  # fmt: skip
    reopened = connector.update(created.key, {"status": "open"}, dropped.version)
    assert (reopened.fields["state"], reopened.fields["state_reason"]) == ("open", "reopened")
    # Nothing to change: nothing written.
    patches = len(_writes(github_fake))
    assert connector.update(created.key, {"status": "open", "title": "t"}, reopened.version) == reopened
    assert len(_writes(github_fake)) == patches
    assert github_fake.issue(OWNER, "web", number).state == "open"
    for fields, field in (
        ({"state": "done"}, "state"),
        ({"status": "fixed"}, "status"),
        ({"state_reason": "because"}, "state_reason"),
        ({"state": "open", "status": "completed"}, "status"),
        ({"status": "completed", "state_reason": "not_planned"}, "status"),
    ):
        with pytest.raises(FieldRefused, match=f"field '{field}'") as refused:
            connector.update(created.key, fields, reopened.version)
        assert refused.value.field == field
    assert len(_writes(github_fake)) == patches


@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"labels": ["bug", "no-such-label"]}, "labels", "no-such-label"),
        ({"assignees": ["alice", "nobody"]}, "assignees", "nobody"),
        ({"assignees": ["carol"]}, "assignees", "carol"),  # read access only: cannot be assigned
        ({"assignee": "nobody"}, "assignee", "nobody"),
        ({"milestone": "v9.9"}, "milestone", "v9.9"),
        ({"priority": "High"}, "priority", "no such field"),
    ],
)
def test_a_name_that_does_not_exist_is_refused_naming_field_and_value_before_writing(
    connector, github_fake, fields, field, value
):
    created = connector.create(SCOPE, {"title": "t"})
    writes = len(_writes(github_fake))
    labels = set(github_fake.repo(OWNER, "web").labels)
    with pytest.raises(FieldRefused, match=f"field '{field}'.*{value}") as refused:
        connector.update(created.key, fields, created.version)
    assert refused.value.field == field
    with pytest.raises(FieldRefused, match=f"field '{field}'.*{value}"):
        connector.create(SCOPE, {"title": "new", **fields})
    assert len(_writes(github_fake)) == writes  # nothing was written, no label was made
    assert set(github_fake.repo(OWNER, "web").labels) == labels


def test_names_are_matched_as_github_matches_them_and_looked_up_again_when_missing(connector, github_fake, monkeypatch):
    created = connector.create(SCOPE, {"title": "t", "labels": ["BUG", "bug"], "assignees": ["Alice", "alice"]})
    assert created.fields["labels"] == ["bug"] and created.fields["assignees"] == ["alice"]
    assert connector.update(created.key, {"labels": ["Bug", "BUG"]}, created.version) == created  # nothing to write
    with pytest.raises(FieldRefused):
        connector.update(created.key, {"labels": ["triaged"]}, created.version)
    github_fake.repo(OWNER, "web").labels["triaged"] = {
        "id": 1, "name": "triaged", "color": "ededed", "description": None, "default": False,
    }  # fmt: skip
    monkeypatch.setattr(github_module, "RELOAD_SECONDS", 0.0)
    assert connector.update(created.key, {"labels": ["triaged"]}, created.version).fields["labels"] == ["triaged"]


def test_what_github_drops_without_a_word_is_refused(make_connector, github_fake):
    """A token whose user may edit issues (triage) but not set labels, assignees or
    milestones (push): GitHub answers 200 and drops them."""
    github_fake.repo(OWNER, "web").roles["tim"] = "triage"
    github_fake.add_token("github_pat_triage", "tim")
    ours = make_connector()
    created = ours.create(SCOPE, {"title": "t"})
    triager = make_connector(token="github_pat_triage")
    assert triager.update(created.key, {"title": "renamed"}, created.version).fields["title"] == "renamed"
    current = triager.get(created.key)
    with pytest.raises(FieldRefused, match=r"field 'labels'.*push access"):
        triager.update(created.key, {"labels": ["bug"]}, current.version)
    problems = triager.check(SCOPE, ["title", "labels", "milestone"])
    assert problems == [
        f"Scope '{SCOPE}': the token's user has no push access to {SCOPE}, so GitHub would silently drop what "
        "syncweb writes to labels, milestone."
    ]
    assert triager.check(SCOPE, ["title", "status"]) == []


def test_pull_requests_are_no_issues(connector, github_fake):
    first = connector.create(SCOPE, {"title": "issue one"})
    pull = github_fake.add_pull_request(OWNER, "web", "Fix the crash")
    second = connector.create(SCOPE, {"title": "issue two"})
    keys = [artifact.key for artifact in connector.changed_since(SCOPE, "").artifacts]
    assert keys == [first.key, second.key]
    pull_key = f"{SCOPE}#{pull.number}"
    with pytest.raises(ArtifactDeleted, match="was deleted in") as gone:
        connector.get(pull_key)
    assert "is a pull request, not an issue" in gone.value.detail
    with pytest.raises(ArtifactDeleted):
        connector.update(pull_key, {"title": "hijacked"}, first.version)
    assert github_fake.issue(OWNER, "web", pull.number).title == "Fix the crash"
    assert not [request for request in _writes(github_fake) if request.path.endswith(f"/{pull.number}")]
    many = connector.get_many([first.key, pull_key])
    assert many[first.key].key == first.key and isinstance(many[pull_key], ArtifactDeleted)


def test_deleted_transferred_and_unseen_issues(connector, github_fake):
    deleted = connector.create(SCOPE, {"title": "deleted"})
    github_fake.delete_issue(OWNER, "web", parse_key(deleted.key)[1])
    with pytest.raises(ArtifactDeleted, match=f"{deleted.key} was deleted in"):
        connector.get(deleted.key)
    moved = connector.create(SCOPE, {"title": "moved"})
    github_fake.transfer_issue(OWNER, "web", parse_key(moved.key)[1], OWNER, "ops")
    with pytest.raises(ArtifactDeleted) as gone:
        connector.get(moved.key)
    assert "transferred to another repository" in gone.value.detail and "/repos/octo/ops/issues/" in gone.value.detail
    with pytest.raises(ArtifactDeleted, match="was deleted in"):
        connector.get(f"{SCOPE}#404")
    with pytest.raises(ArtifactDeleted):
        connector.get("not a key")
    # A repository the token does not see is the scope's problem, not each issue's.
    for key in (f"{OWNER}/secret#1", f"{OWNER}/nothing#1"):
        with pytest.raises(PermanentError, match="there is no repository") as missing:
            connector.get(key)
        assert not isinstance(missing.value, ArtifactDeleted)
    with pytest.raises(PermanentError, match=f"Scope '{OWNER}/secret': there is no repository"):
        connector.changed_since(f"{OWNER}/secret", "")
    with pytest.raises(PermanentError, match="there is no repository"):
        connector.create(f"{OWNER}/secret", {"title": "t"})
    github_fake.repo(OWNER, "ops").has_issues = False
    with pytest.raises(PermanentError, match="Issues are disabled"):
        connector.changed_since(OTHER_SCOPE, "")
    assert connector.check(OTHER_SCOPE, ["title"]) == [
        f"Scope '{OTHER_SCOPE}': repository {OTHER_SCOPE} has issues disabled."
    ]


def test_check_names_a_bad_scope_a_missing_repository_and_field(connector):
    assert connector.check("octo", []) == [
        "Scope 'octo' is not a GitHub scope: write owner/repository, e.g. octo-org/hello-world."
    ]
    assert "there is no repository octo/secret" in connector.check(f"{OWNER}/secret", [])[0]
    assert connector.check(SCOPE, ["title", "priority"]) == [
        f"Scope '{SCOPE}': there is no field 'priority'; GitHub fields are title, body, state, state_reason, status, "
        "labels, assignees, assignee, milestone."
    ]


def test_credentials(make_connector, github_fake):
    with pytest.raises(RepositoryError, match=r"refused our credentials \(HTTP 401\)"):
        make_connector(token="github_pat_wrong").ping()
    seen = len(github_fake.seen)
    with pytest.raises(RepositoryError, match="has no token"):
        make_connector(token="").changed_since(SCOPE, "")
    assert len(github_fake.seen) == seen  # nothing sent
    connector = make_connector()
    connector.ping()
    request = github_fake.seen[-1]
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-github-api-version"] == "2022-11-28"
    assert request.headers["accept"] == "application/vnd.github+json"


def test_a_token_that_may_not_write_fails_the_issue_not_the_repository(make_connector, github_fake):
    created = make_connector().create(SCOPE, {"title": "t"})
    github_fake.add_token("github_pat_read_only", BOT, write=False)
    reader = make_connector(token="github_pat_read_only")
    reader.ping()  # reading works: pausing the repository would not help
    with pytest.raises(
        PermanentError, match=r"denied us access to octo/web#1 \(HTTP 403: Resource not accessible"
    ) as denied:
        reader.update(created.key, {"title": "x"}, created.version)
    assert not isinstance(denied.value, RepositoryError)


# --- rate limits ---------------------------------------------------------------------------


def test_a_primary_rate_limit_waits_until_the_reset_and_sends_nothing_meanwhile(connector, github_fake):
    created = connector.create(SCOPE, {"title": "t"})
    reset = int(time.time()) + 600
    github_fake.fail_next(
        Response(403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": "x"},
                 {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000", "x-ratelimit-reset": str(reset)})
    )  # fmt: skip
    with pytest.raises(TransientError, match=r"rate limiting us \(HTTP 403, primary rate limit\)") as limited:
        connector.get(created.key)
    assert limited.value.retry_after == pytest.approx(reset - time.time(), abs=2)
    seen = len(github_fake.seen)
    with pytest.raises(TransientError, match="waiting") as still:
        connector.changed_since(SCOPE, "")
    assert still.value.retry_after == pytest.approx(reset - time.time(), abs=2)
    assert len(github_fake.seen) == seen  # honoured: nothing sent before the reset


def test_the_last_request_of_the_quota_pauses_until_the_reset(connector, github_fake):
    created = connector.create(SCOPE, {"title": "t"})
    quota = github_fake.tokens[TOKEN]
    quota.remaining, quota.reset = 1, int(time.time()) + 300
    connector.get(created.key)  # the last one: x-ratelimit-remaining: 0
    seen = len(github_fake.seen)
    with pytest.raises(TransientError) as paused:
        connector.get(created.key)
    assert paused.value.retry_after == pytest.approx(300, abs=2)
    assert len(github_fake.seen) == seen


def test_the_fakes_own_primary_limit_answers_429_as_well(make_connector, github_fake):
    """The fake counts the quota itself; GitHub may answer 403 or 429."""
    github_fake.rate_limit_status = 429
    quota = github_fake.tokens[TOKEN]
    quota.remaining, quota.reset = 0, int(time.time()) + 120
    with pytest.raises(TransientError, match=r"HTTP 429, primary rate limit") as limited:
        make_connector().changed_since(SCOPE, "")
    assert limited.value.retry_after == pytest.approx(120, abs=2)


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [(403, 30, 30), (429, 45, 45), (403, None, 60), (429, None, 60)],
)
def test_a_secondary_rate_limit_waits_as_github_says(make_connector, github_fake, status, retry_after, wait):
    connector = make_connector()
    github_fake.fail_next(github_fake.secondary_limit(retry_after, status=status))
    with pytest.raises(TransientError, match=rf"HTTP {status}, secondary rate limit") as limited:
        connector.create(SCOPE, {"title": "t"})
    assert limited.value.retry_after == pytest.approx(wait, abs=1)
    assert not github_fake.repo(OWNER, "web").issues
    seen = len(github_fake.seen)
    with pytest.raises(TransientError):
        connector.create(SCOPE, {"title": "t"})
    assert len(github_fake.seen) == seen


def test_writes_are_spaced(make_connector, github_fake):
    connector = make_connector(settings={"write_interval": 0.3})
    started = time.monotonic()
    for title in ("one", "two", "three"):
        connector.create(SCOPE, {"title": title})
    assert time.monotonic() - started >= 0.6


# --- conditional requests ----------------------------------------------------------------


def test_a_repeated_read_is_conditional_and_a_304_costs_no_quota(connector, github_fake):
    created = connector.create(SCOPE, {"title": "t"})
    first = connector.get(created.key)
    quota = github_fake.tokens[TOKEN].remaining
    again = connector.get(created.key)
    assert again == first
    request, response = github_fake.exchanges[-1].request, github_fake.exchanges[-1].response
    assert request.headers["if-none-match"].startswith('W/"') and response.status == 304
    assert github_fake.tokens[TOKEN].remaining == quota
    github_fake.edit_issue(OWNER, "web", parse_key(created.key)[1], title="edited")
    assert connector.get(created.key).fields["title"] == "edited"  # a change is a 200
    assert github_fake.exchanges[-1].response.status == 200


def test_an_idle_repository_is_polled_for_no_quota(connector, github_fake):
    connector.create(SCOPE, {"title": "t"})
    github_fake.age(60)
    cursor = connector.changed_since(SCOPE, "").cursor
    assert connector.changed_since(SCOPE, cursor).cursor == cursor  # the first read from there
    quota = github_fake.tokens[TOKEN].remaining
    for _ in range(3):
        changes = connector.changed_since(SCOPE, cursor)
        assert changes.artifacts == [] and changes.cursor == cursor
        assert github_fake.exchanges[-1].response.status == 304
    assert github_fake.tokens[TOKEN].remaining == quota


# --- concurrent edits ------------------------------------------------------------------------


def test_an_update_with_a_stale_version_is_a_conflict_and_writes_nothing(connector, github_fake):
    created = connector.create(SCOPE, {"title": "t"})
    github_fake.edit_issue(OWNER, "web", parse_key(created.key)[1], by="alice", labels=["bug"])
    writes = len(_writes(github_fake))
    with pytest.raises(ConflictError, match=r"changed in .* since it was read"):
        connector.update(created.key, {"title": "ours"}, created.version)
    assert len(_writes(github_fake)) == writes
    assert github_fake.issue(OWNER, "web", parse_key(created.key)[1]).title == "t"


def test_an_edit_in_the_same_second_as_the_read_is_still_a_conflict(connector, github_fake):
    created = connector.create(SCOPE, {"title": "t"})
    issue = github_fake.issue(OWNER, "web", parse_key(created.key)[1])
    second = issue.updated
    github_fake.edit_issue(OWNER, "web", issue.number, by="alice", title="theirs")
    issue.updated = second  # the same updated_at, to the second
    assert connector.get(created.key).version.split("/")[0] == created.version.split("/")[0]
    with pytest.raises(ConflictError):
        connector.update(created.key, {"body": "ours"}, created.version)
    assert issue.body is None


# --- change detection ----------------------------------------------------------------------


def _list_requests(fake: FakeGitHub) -> list[Request]:
    return [r for r in fake.seen if r.method == "GET" and r.path == f"/repos/{SCOPE}/issues"]


def test_changes_are_listed_by_since_oldest_first(connector, github_fake):
    first = connector.create(SCOPE, {"title": "one"})
    second = connector.create(SCOPE, {"title": "two"})
    github_fake.age(120)
    changes = connector.changed_since(SCOPE, "")
    assert [a.key for a in changes.artifacts] == [first.key, second.key]
    request = _list_requests(github_fake)[-1]
    assert {name: values[-1] for name, values in request.query.items()} == {
        "state": "all", "sort": "updated", "direction": "asc", "per_page": "100",
    }  # fmt: skip
    # Everything is settled (over 10 s old): the cursor is past it, nothing comes again.
    assert Cursor.parse(changes.cursor).since > github_fake.issue(OWNER, "web", 2).updated
    assert connector.changed_since(SCOPE, changes.cursor).artifacts == []
    edited = connector.update(first.key, {"title": "one!"}, changes.artifacts[0].version)
    later = connector.changed_since(SCOPE, changes.cursor)
    assert [a.key for a in later.artifacts] == [edited.key] and later.artifacts[0].version == edited.version
    assert _list_requests(github_fake)[-1].query["since"] == [changes.cursor.split("|")[0]]


def test_recent_changes_are_read_again_but_returned_once(connector, github_fake):
    """Changes within the overlap are not passed by the cursor (a save may commit
    late), but the cursor names what it returned there, which is not returned again
    while unchanged; an edit in the same second is."""
    created = connector.create(SCOPE, {"title": "t"})
    changes = connector.changed_since(SCOPE, "")
    assert [a.key for a in changes.artifacts] == [created.key]
    cursor = Cursor.parse(changes.cursor)
    assert cursor.since <= github_fake.issue(OWNER, "web", 1).updated and 1 in cursor.seen
    assert connector.changed_since(SCOPE, changes.cursor).artifacts == []
    issue = github_fake.issue(OWNER, "web", 1)
    second = issue.updated
    github_fake.edit_issue(OWNER, "web", 1, by="alice", title="edited in the same second")
    issue.updated = second
    again = connector.changed_since(SCOPE, changes.cursor)
    assert [a.fields["title"] for a in again.artifacts] == ["edited in the same second"]
    # An issue whose save commits late, with an updated_at before the latest: still seen.
    late = github_fake.add_issue(OWNER, "web", "late")
    late.updated = second - timedelta(seconds=5)
    assert [a.fields["title"] for a in connector.changed_since(SCOPE, again.cursor).artifacts] == ["late"]


def test_a_limit_returns_whole_seconds_and_the_cursor_continues_to_the_end(make_connector, github_fake):
    connector = make_connector(settings={"page_size": 3})
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(7):
        github_fake.add_issue(OWNER, "web", f"i{index}").updated = base + timedelta(seconds=index // 2)
    changes = connector.changed_since(SCOPE, "", limit=3)
    assert [a.fields["title"] for a in changes.artifacts] == ["i0", "i1"]  # the second of i2, i3 is whole next time
    seen = [a.fields["title"] for a in changes.artifacts]
    cursor = changes.cursor
    for _ in range(10):
        changes = connector.changed_since(SCOPE, cursor, limit=3)
        if not changes.artifacts:
            break
        seen += [a.fields["title"] for a in changes.artifacts]
        cursor = changes.cursor
    assert seen == [f"i{index}" for index in range(7)]


def test_an_issue_edited_during_a_read_hides_no_other(make_connector, github_fake):
    """Pages are read by keyset: an issue edited between two pages moves to the end
    of the list without shifting the issues after it out of sight."""
    connector = make_connector(settings={"page_size": 2})
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(7):
        github_fake.add_issue(OWNER, "web", f"i{index}").updated = base + timedelta(seconds=index)
    reads = []

    def edit_once(request: Request) -> None:
        if request.path.endswith("/issues") and request.method == "GET":
            reads.append(request)
            if len(reads) == 2:
                github_fake.edit_issue(OWNER, "web", 1, by="alice", title="i0 edited")

    github_fake.before_answer = edit_once
    titles = {a.fields["title"] for a in connector.changed_since(SCOPE, "").artifacts}
    assert titles == {"i0 edited", *(f"i{index}" for index in range(1, 7))}
    assert reads[1].query["since"] == [(base + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")]


def test_a_second_fuller_than_a_page_is_read_whole_even_while_it_changes(make_connector, github_fake):
    connector = make_connector(settings={"page_size": 2})
    crowded = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for index in range(7):
        github_fake.add_issue(OWNER, "web", f"i{index}").updated = crowded + timedelta(microseconds=index)
    github_fake.add_issue(OWNER, "web", "after").updated = crowded + timedelta(seconds=5)
    pages = []

    def edit_during_the_pass(request: Request) -> None:
        if request.path.endswith("/issues"):
            pages.append(request)
            if len(pages) == 3:  # the second page of the first pass: i0 leaves the second
                github_fake.edit_issue(OWNER, "web", 1, by="alice", title="i0 edited")

    github_fake.before_answer = edit_during_the_pass
    titles = [a.fields["title"] for a in connector.changed_since(SCOPE, "").artifacts]
    assert sorted(titles) == sorted(["i0 edited", *(f"i{index}" for index in range(1, 7)), "after"])
    assert len(titles) == 8
    assert any(request.query.get("page") == ["2"] for request in pages)


def test_changes_of_another_repository_are_not_seen(connector):
    inside = connector.create(SCOPE, {"title": "in"})
    connector.create(OTHER_SCOPE, {"title": "out"})
    assert [a.key for a in connector.changed_since(SCOPE, "").artifacts] == [inside.key]


# --- get_many ----------------------------------------------------------------------------------


def test_get_many_reads_a_repositorys_recent_issues_in_one_call(connector, github_fake):
    keys = [connector.create(SCOPE, {"title": f"t{index}"}).key for index in range(4)]
    other = connector.create(OTHER_SCOPE, {"title": "elsewhere"}).key
    github_fake.delete_issue(OWNER, "web", parse_key(keys[3])[1])
    before = len(github_fake.seen)
    found = connector.get_many([*keys, other, f"{SCOPE}#999", "garbage"])
    sent = github_fake.seen[before:]
    lists = [r for r in sent if r.path == f"/repos/{SCOPE}/issues"]
    assert len(lists) == 1 and lists[0].query["sort"] == ["updated"] and lists[0].query["direction"] == ["desc"]
    singles = sorted(r.path for r in sent if r.path != f"/repos/{SCOPE}/issues")
    # Read alone: the one other repository's key, the deleted one, the missing one (and
    # whether its repository is still there, once).
    assert singles == [
        f"/repos/{OTHER_SCOPE}/issues/1", f"/repos/{SCOPE}", f"/repos/{SCOPE}/issues/4", f"/repos/{SCOPE}/issues/999",
    ]  # fmt: skip
    assert [found[key].fields["title"] for key in keys[:3]] == ["t0", "t1", "t2"]
    assert found[other].fields["title"] == "elsewhere"
    for key in (keys[3], f"{SCOPE}#999", "garbage"):
        assert isinstance(found[key], ArtifactDeleted)
    assert found[keys[0]] == connector.get(keys[0])  # a listed issue reads as a single one


# --- GitHub Enterprise Server ----------------------------------------------------------------------


def test_a_server_is_reached_under_api_v3(db, github_openapi):
    fake = build_scene(FakeGitHub(enterprise=True)).start()
    try:
        assert fake.api_url.endswith("/api/v3")
        connector = connector_for(github_repository(fake, base_url=fake.api_url + "/"))
        created = connector.create(SCOPE, {"title": "on the server", "labels": ["bug"]})
        assert created.url == f"{fake.url}/{SCOPE}/issues/1" == connector.url(created.key)
        assert [a.key for a in connector.changed_since(SCOPE, "").artifacts] == [created.key]
        assert connector.check(SCOPE, ["title", "labels"]) == []
        assert all(request.path.startswith("/repos/") or request.path == "/user" for request in fake.seen)
    finally:
        fake.stop()
    assert github_openapi.problems(fake.exchanges) == []


# --- the OpenAPI check itself ----------------------------------------------------------------------


def test_every_answer_of_the_fake_is_checked_against_githubs_openapi_description(github_openapi):
    """The check runs (CI must run it: there, a missing description fails the
    session's fixture instead of skipping)."""
    if github_openapi.description is None:
        pytest.skip(github_openapi.reason)
    assert github_openapi.description.version == "23.0.2"
    assert (CACHE / "api.github.com.json").is_file()
    assert INTEGRITY.startswith("sha512-")


def test_without_the_description_the_check_is_skipped_saying_why_except_in_ci():
    def unreachable() -> Description:
        raise Unavailable("cannot download @octokit/openapi 23.0.2 from the npm registry: no route to host")

    with pytest.warns(UserWarning, match="not checked against GitHub's OpenAPI description: cannot download"):
        check = openapi_check(unreachable, environ={})
    assert check.description is None and "no route to host" in check.reason
    assert check.problems([object()]) == []
    with pytest.raises(pytest.fail.Exception, match="needed in CI"):
        openapi_check(unreachable, environ={"CI": "true"})


def test_a_tarball_whose_integrity_differs_is_refused(monkeypatch, tmp_path):
    """The pinned integrity is checked against the registry's and the tarball's."""

    class Answer(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(url, timeout):
        if url.endswith(".tgz"):
            return Answer(b"not the package")
        return Answer(json.dumps({"dist": {"integrity": INTEGRITY}}).encode())

    monkeypatch.setattr(github_openapi_module.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(RuntimeError, match="not the pinned"):
        github_openapi_module.description_file(tmp_path)
    assert not (tmp_path / "api.github.com.json").exists()

    def offline(url, timeout):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(github_openapi_module.urllib.request, "urlopen", offline)
    with pytest.raises(Unavailable, match="Network is unreachable"):
        github_openapi_module.description_file(tmp_path)


def test_the_conformance_suite_runs_against_your_own_github_when_asked():
    assert live_github({}) is None
    given = {
        "SYNCWEB_CONFORMANCE_GITHUB_TOKEN": "t",
        "SYNCWEB_CONFORMANCE_GITHUB_SCOPE": "me/a",
        "SYNCWEB_CONFORMANCE_GITHUB_OTHER_SCOPE": " me/b ",
    }
    assert live_github(given) == {"url": "https://api.github.com", "token": "t", "scopes": ["me/a", "me/b"]}
    del given["SYNCWEB_CONFORMANCE_GITHUB_OTHER_SCOPE"]
    with pytest.raises(pytest.fail.Exception, match="SYNCWEB_CONFORMANCE_GITHUB_OTHER_SCOPE"):
        live_github(given)


def _exchange(method, path, status, body, query=None, headers=None, request_body=b""):
    request = Request(method, path, query or {}, headers or {}, request_body)
    return type("Exchange", (), {"request": request, "response": Response(status, body)})()


def test_the_check_finds_what_the_description_does_not_allow(github_openapi, github_fake, connector):
    if github_openapi.description is None:
        pytest.skip(github_openapi.reason)
    description: Description = github_openapi.description
    connector.create(SCOPE, {"title": "t"})
    good = next(e for e in github_fake.exchanges if e.request.method == "POST")
    issue = good.response.body
    assert description.problems([good]) == []
    wrong = [
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 200, {k: v for k, v in issue.items() if k != "title"}),
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 200, {**issue, "state_reason": "fixed"}),
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 200, {**issue, "updated_at": "yesterday"}),
        _exchange("GET", f"/repos/{SCOPE}/issues", 200, [issue, {**issue, "number": "2"}]),
        _exchange("GET", f"/repos/{SCOPE}/issues", 200, [], query={"sort": ["bogus"]}),
        _exchange("GET", f"/repos/{SCOPE}/issues", 200, [], query={"nonsense": ["1"]}),
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 202, issue),
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 304, None),
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 404, {"message": 5}),
        _exchange("PATCH", f"/repos/{SCOPE}/issues/1", 200, issue, request_body=json.dumps({"state": "done"}).encode()),
        _exchange("GET", "/no/such/thing", 200, {}),
    ]
    for exchange in wrong:
        assert description.problems([exchange]), (exchange.request, exchange.response.status)
    fine = [
        _exchange("GET", f"/repos/{SCOPE}/issues/1", 200, {**issue, "state_reason": None}),
        _exchange("GET", f"/repos/{SCOPE}/issues", 304, None, headers={"if-none-match": 'W/"x"'}),
        _exchange(
            "GET", f"/repos/{SCOPE}/issues", 403, {"message": "API rate limit exceeded", "documentation_url": "x"}
        ),
    ]
    assert description.problems(fine) == []


# --- with the engine -------------------------------------------------------------------------------


def test_the_engine_syncs_a_sandbox_with_github_both_ways(db, github_fake):
    """Detection and processing as workers run them, between the sandbox and the fake."""
    sandbox = Repository.objects.create(name="Sandbox", kind="sandbox", settings={"key_prefix": "L"})
    mapping = Mapping.objects.create(
        name="Sandbox to GitHub",
        left=sandbox,
        left_scope="WEB",
        right=github_repository(github_fake),
        right_scope=SCOPE,
        field_map=[
            {"left": "title", "right": "title", "direction": "both"},
            {"left": "status", "right": "status", "direction": "both",
             "values": {"Open": "open", "Done": "completed", "Won't do": "not_planned"}},
            {"left": "tags", "right": "labels", "direction": "both"},
        ],
    )  # fmt: skip

    def detect_and_process():
        detection = detect_changes(mapping.pk)
        assert not detection.error, detection.error
        for sync in Synchronization.objects.filter(status=SyncStatus.PENDING):
            assert process.process_sync(sync.pk, f"job-{sync.pk}-{time.monotonic()}") == SyncStatus.OK
        return detection

    issue = github_fake.add_issue(OWNER, "web", "Crash on start", by="alice", labels=["bug"])
    github_fake.add_pull_request(OWNER, "web", "Fix the crash", by="alice")
    assert detect_and_process().created == 1  # the issue, not the pull request
    sync = Synchronization.objects.get()
    assert sync.right_key == f"{SCOPE}#{issue.number}"
    copy = SandboxArtifact.objects.get()
    assert (copy.fields["title"], copy.fields["status"], copy.fields["tags"]) == ("Crash on start", "Open", ["bug"])
    # The sandbox side closes it as won't do; GitHub closes it as not planned, and nothing echoes.
    left = connector_for(sandbox)
    left.update(sync.left_key, {"status": "Won't do"}, left.get(sync.left_key).version)
    assert detect_and_process().changed == 1
    assert (issue.state, issue.state_reason) == ("closed", "not_planned")
    assert detect_and_process().changed == 0
    # A person reopens it in GitHub and adds a label: the sandbox follows.
    github_fake.edit_issue(OWNER, "web", issue.number, by="alice", state="open", labels=["bug", "enhancement"])
    assert detect_and_process().changed == 1
    copy.refresh_from_db()
    assert (copy.fields["status"], copy.fields["tags"]) == ("Open", ["bug", "enhancement"])


def test_a_new_issue_github_did_not_close_is_partly_created_and_linked_not_lost(github_fake, connector):
    """GitHub creates issues open; the write that closes it failing (a secondary
    rate limit) leaves an open issue, said as a PartlyCreated carrying it."""
    original = github_fake.dispatch

    def limited(request):
        if request.method == "PATCH":
            return github_fake.secondary_limit(30)
        return original(request)

    github_fake.dispatch = limited
    with pytest.raises(PartlyCreated) as partly:
        connector.create(SCOPE, {"title": "Done already", "state": "closed"})
    issue = partly.value.artifact
    assert issue.fields["state"] == "open" and partly.value.fields == ["state"]
    assert isinstance(partly.value.error, TransientError)
    assert github_fake.issue(OWNER, "web", int(issue.key.rsplit("#", 1)[1])).title == "Done already"
