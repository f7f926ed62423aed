"""What the Redmine connector does beyond the conformance suite, against a live Redmine
(tests/trackers_fixtures.py; the live tests skip, saying why, where Redmine is not
installed): names resolved to ids, tracker and subproject scopes, concurrent edits,
change detection within one second and past a page, and Redmine's refusals. The
first tests need no Redmine: they read the connector's own formats."""

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import pytest

from synchronizations.connectors import connector_for
from synchronizations.connectors.redmine import (
    RedmineConnector,
    Scope,
    _whole_seconds,
    format_cursor,
    issue_number,
    parse_cursor,
    parse_time,
)
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    RepositoryError,
)
from synchronizations.models import Repository
from tests.harness_redmine import redmine_repository

# --- the connector's own formats (no Redmine needed) -------------------------------


@pytest.mark.parametrize(
    ("text", "scope"),
    [
        ("web", Scope("web")),
        ("web+", Scope("web", subprojects=True)),
        ("web/Bug", Scope("web", tracker="Bug")),
        ("web+/Feature request", Scope("web", subprojects=True, tracker="Feature request")),
        ("my_proj-2/A/B", Scope("my_proj-2", tracker="A/B")),
    ],
)
def test_a_scope_is_a_project_optionally_with_subprojects_and_a_tracker(text, scope):
    assert Scope.parse(text) == scope


@pytest.mark.parametrize("text", ["", "Web", "web /Bug", "/Bug", "web++", "WEB-1"])
def test_anything_else_is_not_a_scope(text):
    with pytest.raises(PermanentError, match="not a Redmine scope"):
        Scope.parse(text)


def test_keys_are_issue_numbers_with_or_without_a_hash():
    assert [issue_number(key) for key in ("#42", "42", " #7 ", "#0", "WEB-1", "#", "4 2")] == [
        42, 42, 7, None, None, None, None,
    ]  # fmt: skip


def test_a_cursor_is_an_instant_and_anything_else_starts_from_the_beginning():
    moment = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)
    assert parse_cursor(format_cursor(moment)) == moment
    assert format_cursor(moment) == "2024-05-01T10:00:00Z"
    assert [parse_cursor(text) for text in ("", "42", "2024-05-01", "garbage")] == [None] * 4


def _issue(number: int, second: int) -> dict:
    return {"id": number, "updated_on": f"2024-05-01T10:00:{second:02d}Z"}


def test_a_limited_read_returns_whole_seconds_and_continues_after_them():
    issues = [_issue(1, 1), _issue(2, 1), _issue(3, 2), _issue(4, 2), _issue(5, 3)]
    chosen, following = _whole_seconds(issues, limit=3, complete=True)
    assert [issue["id"] for issue in chosen] == [1, 2]
    assert following == parse_time("2024-05-01T10:00:02Z")
    assert _whole_seconds(issues, limit=5, complete=True) == (issues, None)


def test_a_second_holding_more_than_the_limit_is_returned_whole():
    issues = [_issue(1, 1), _issue(2, 1), _issue(3, 1), _issue(4, 2)]
    chosen, following = _whole_seconds(issues, limit=2, complete=False)
    assert [issue["id"] for issue in chosen] == [1, 2, 3]
    assert following == parse_time("2024-05-01T10:00:02Z")


@pytest.mark.parametrize(
    ("messages", "field"),
    [
        (["Status is not included in the list"], "status"),
        (["Customer cannot be blank"], "Customer"),
        (["Subject is too long (maximum is 255 characters)", "Assignee is invalid"], "title"),
        (["Assignee is invalid"], "assignee"),
        (["Parent task is invalid"], "Parent task"),
        (["Something went wrong"], ""),
    ],
)
def test_the_field_of_a_refusal_is_read_from_redmines_message(db, messages, field):
    repository = Repository.objects.create(name="Parsing only", kind="redmine", base_url="http://127.0.0.1:9/")
    connector = RedmineConnector(repository)
    response = httpx.Response(422, json={"errors": messages})
    named, said = connector.refused_field(response)
    assert named == field
    assert said == "; ".join(messages)


@pytest.mark.parametrize("value", [-1, 3601, "10", 1.5, True])
def test_a_bad_overlap_setting_is_refused_naming_it(db, value):
    repository = Repository.objects.create(name="R", kind="redmine", settings={"overlap_seconds": value})
    with pytest.raises(PermanentError, match="overlap_seconds"):
        RedmineConnector(repository)


# --- against a live Redmine ----------------------------------------------------------


def api(server, key: str | None = None) -> httpx.Client:
    """A plain REST client of ``server`` (the admin's key unless ``key``)."""
    return httpx.Client(base_url=server.base_url, headers={"X-Redmine-API-Key": key or server.api_key}, timeout=30)


def raw_issue(server, key: str) -> dict:
    with api(server) as client:
        response = client.get(f"issues/{issue_number(key)}.json", params={"include": "journals"})
    response.raise_for_status()
    return response.json()["issue"]


def raw_edit(server, key: str, api_key: str | None = None, **issue) -> None:
    """An edit by another client (the second user unless ``api_key``)."""
    with api(server, api_key or server.user_api_key) as client:
        client.put(f"issues/{issue_number(key)}.json", json={"issue": issue}).raise_for_status()


def issue_count(server, project: str) -> int:
    with api(server) as client:
        answer = client.get("issues.json", params={"project_id": project, "status_id": "*", "limit": 1})
    return answer.json()["total_count"]


def server_time(server) -> datetime:
    """Redmine's clock, from the Date header of an answer (whole seconds)."""
    with api(server) as client:
        return parsedate_to_datetime(client.get("users/current.json").headers["Date"])


def wait_for_server_past(server, moment: datetime, timeout: float = 10) -> None:
    """Polls the server's clock (its Date header) until a whole second after ``moment``."""
    deadline = time.monotonic() + timeout
    while server_time(server) <= moment:
        if time.monotonic() > deadline:
            pytest.fail(f"Redmine's clock did not pass {moment} within {timeout} s")
        time.sleep(0.1)


@pytest.fixture
def connector(db, redmine_server):
    return connector_for(redmine_repository(redmine_server))


@pytest.fixture
def make_connector(db, redmine_server):
    """A connector on the live Redmine: ``api_key``, ``settings`` as given."""

    def make(**changes):
        return connector_for(redmine_repository(redmine_server, **changes))

    return make


@pytest.fixture
def scope(redmine_project) -> str:
    return redmine_project["identifier"]


@pytest.mark.live
def test_fields_are_read_and_written_by_name(connector, scope, redmine_server):
    fields = {
        "title": "By name",
        "description": "First line\nsecond line",
        "priority": "Urgent",
        "tracker": "Feature",
        "assignee": redmine_server.user_login,
        redmine_server.custom_field: "ACME",
    }
    created = connector.create(scope, fields)
    assert {name: created.fields[name] for name in fields} == fields
    assert created.fields["status"] == "New"

    stored = raw_issue(redmine_server, created.key)
    assert stored["priority"]["name"] == "Urgent"
    assert stored["tracker"]["name"] == "Feature"
    assert stored["assigned_to"]["id"] == redmine_server.user_id
    assert stored["custom_fields"] == [{"id": redmine_server.custom_field_id, "name": "Customer", "value": "ACME"}]

    updated = connector.update(created.key, {"status": "Resolved", "assignee": "", "priority": "Low"}, created.version)
    assert (updated.fields["status"], updated.fields["assignee"], updated.fields["priority"]) == ("Resolved", "", "Low")
    assert "assigned_to" not in raw_issue(redmine_server, created.key)


@pytest.mark.live
def test_keys_urls_and_missing_issues(connector, scope, redmine_server):
    created = connector.create(scope, {"title": "Keyed"})
    number = issue_number(created.key)
    assert created.key == f"#{number}"
    assert created.url == connector.url(created.key) == f"{redmine_server.base_url}issues/{number}"
    assert connector.get(str(number)).key == created.key
    for key in ("#99999999", "WEB-1"):
        with pytest.raises(ArtifactDeleted, match="was deleted in"):
            connector.get(key)


@pytest.mark.live
@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "Blocked"), ("priority", "Whenever"), ("tracker", "Epic"), ("assignee", "nobody-here")],
)
def test_an_unknown_name_is_refused_naming_field_and_value_before_anything_is_written(
    connector, scope, redmine_server, field, value
):
    with pytest.raises(FieldRefused, match=f"field '{field}'.*{value!r}") as refused:
        connector.create(scope, {"title": "Never made", field: value})
    assert refused.value.field == field
    assert issue_count(redmine_server, scope) == 0

    existing = connector.create(scope, {"title": "Kept"})
    with pytest.raises(FieldRefused, match=f"field '{field}'.*{value!r}"):
        connector.update(existing.key, {"title": "Changed", field: value}, existing.version)
    assert raw_issue(redmine_server, existing.key)["subject"] == "Kept"


@pytest.mark.live
def test_a_field_redmine_does_not_have_is_refused_naming_it(connector, scope, redmine_server):
    with pytest.raises(FieldRefused, match="field 'Severity': no such field"):
        connector.create(scope, {"title": "Never made", "Severity": "High"})
    assert issue_count(redmine_server, scope) == 0


@pytest.mark.live
def test_a_status_given_at_creation_is_kept(connector, scope):
    """Redmine gives a new issue its tracker's default status whatever the request
    says; the connector sets the status as an edit right after."""
    created = connector.create(scope, {"title": "Born closed", "status": "Closed"})
    assert created.fields["status"] == "Closed"
    assert connector.get(created.key).fields["status"] == "Closed"


@pytest.mark.live
def test_a_status_the_workflow_does_not_allow_is_refused_before_writing(make_connector, scope, redmine_server):
    # The second user is a Developer: the default workflow does not let a Developer reject.
    connector = make_connector(api_key=redmine_server.user_api_key)
    created = connector.create(scope, {"title": "Workflow"})
    with pytest.raises(FieldRefused, match=r"field 'status'.*'New' to 'Rejected'"):
        connector.update(created.key, {"title": "Not written", "status": "Rejected"}, created.version)
    assert raw_issue(redmine_server, created.key)["subject"] == "Workflow"

    # On creation the issue exists before the status is refused: it is returned as it is.
    born = connector.create(scope, {"title": "Rejected at birth", "status": "Rejected"})
    assert born.fields["status"] == "New"
    assert connector.get(born.key).fields["title"] == "Rejected at birth"


@pytest.mark.live
def test_a_key_without_admin_rights_still_resolves_users_and_custom_fields(make_connector, scope, redmine_server):
    connector = make_connector(api_key=redmine_server.user_api_key)
    with api(redmine_server, redmine_server.user_api_key) as client:
        assert client.get("users.json").status_code == 403
        assert client.get("custom_fields.json").status_code == 403
    with api(redmine_server) as client:  # the admin becomes a member: assignable
        client.post(
            f"projects/{scope}/memberships.json",
            json={"membership": {"user_id": redmine_server.admin_id, "role_ids": [redmine_server.manager_role_id]}},
        ).raise_for_status()
    created = connector.create(
        scope, {"title": "As a Developer", "assignee": redmine_server.admin_login, redmine_server.custom_field: "X"}
    )
    assert created.fields["assignee"] == redmine_server.admin_login
    assert created.fields[redmine_server.custom_field] == "X"
    assert connector.check(scope, ["title", "assignee", redmine_server.custom_field]) == []


@pytest.mark.live
def test_line_ends_of_a_description_read_back_as_written(connector, scope, redmine_server):
    created = connector.create(scope, {"title": "Lines", "description": "one\ntwo\n\nthree"})
    assert "\r\n" in raw_issue(redmine_server, created.key)["description"]  # how Redmine stores it
    assert connector.get(created.key).fields["description"] == "one\ntwo\n\nthree"


# --- scopes ----------------------------------------------------------------------------


@pytest.mark.live
def test_a_tracker_scope_sees_and_creates_only_issues_of_that_tracker(connector, scope):
    feature = connector.create(f"{scope}/Feature", {"title": "A feature"})
    bug = connector.create(scope, {"title": "A bug", "tracker": "Bug"})
    assert feature.fields["tracker"] == "Feature"
    seen = [artifact.key for artifact in connector.changed_since(f"{scope}/Feature", "").artifacts]
    assert seen == [feature.key]
    everything = {artifact.key for artifact in connector.changed_since(scope, "").artifacts}
    assert everything == {feature.key, bug.key}
    with pytest.raises(FieldRefused, match=r"field 'tracker'.*outside scope"):
        connector.create(f"{scope}/Feature", {"title": "A bug in disguise", "tracker": "Bug"})


@pytest.mark.live
def test_new_issues_of_a_scope_without_tracker_get_the_default_tracker_setting(make_connector, scope):
    connector = make_connector(settings={"default_tracker": "Support"})
    assert connector.create(scope, {"title": "Help"}).fields["tracker"] == "Support"


@pytest.mark.live
def test_subprojects_are_left_out_unless_the_scope_takes_them_in(connector, scope, redmine_server, redmine_project):
    with api(redmine_server) as client:
        child = client.post(
            "projects.json",
            json={"project": {"name": f"{scope} child", "identifier": f"{scope}-child",
                              "parent_id": redmine_project["id"], "is_public": True}},
        )  # fmt: skip
    child.raise_for_status()
    in_child = connector.create(f"{scope}-child", {"title": "In the child"})
    in_parent = connector.create(scope, {"title": "In the parent"})
    assert [a.key for a in connector.changed_since(scope, "").artifacts] == [in_parent.key]
    assert {a.key for a in connector.changed_since(f"{scope}+", "").artifacts} == {in_parent.key, in_child.key}
    assert connector.create(f"{scope}+", {"title": "Made via +"}).key in {
        a.key for a in connector.changed_since(scope, "").artifacts
    }


@pytest.mark.live
def test_check_names_a_missing_project_tracker_and_field(connector, scope, redmine_server):
    assert connector.check(f"{scope}/Bug", ["title", "status", redmine_server.custom_field]) == []
    [missing] = connector.check("no-such-project", ["title"])
    assert "project 'no-such-project' does not exist" in missing
    [tracker] = connector.check(f"{scope}/Epic", ["title"])
    assert "no tracker 'Epic'" in tracker
    [field] = connector.check(scope, ["title", "Severity"])
    assert "no field 'Severity'" in field and redmine_server.custom_field in field
    [syntax] = connector.check("Not A Scope", ["title"])
    assert "not a Redmine scope" in syntax


# --- concurrent edits ---------------------------------------------------------------------


@pytest.mark.live
def test_an_edit_since_the_read_is_a_conflict_and_is_not_overwritten(connector, scope, redmine_server):
    created = connector.create(scope, {"title": "Ours", redmine_server.custom_field: "A"})
    read = connector.get(created.key)
    raw_edit(redmine_server, created.key, subject="Theirs")
    with pytest.raises(ConflictError, match="changed"):
        connector.update(created.key, {"title": "Overwrite?", redmine_server.custom_field: "B"}, read.version)
    stored = raw_issue(redmine_server, created.key)
    assert stored["subject"] == "Theirs"
    assert stored["custom_fields"][0]["value"] == "A"


@pytest.mark.live
def test_an_edit_in_the_same_second_as_the_read_is_still_a_conflict(connector, scope, redmine_server):
    """updated_on has whole seconds: the version also counts the issue's journals."""
    for _ in range(20):
        created = connector.create(scope, {"title": "Same second"})
        raw_edit(redmine_server, created.key, subject="Theirs, same second")
        if raw_issue(redmine_server, created.key)["updated_on"] == created.version.split("/")[0]:
            break
    else:
        pytest.fail("could not edit an issue within the second it was created in 20 tries")
    with pytest.raises(ConflictError):
        connector.update(created.key, {"title": "Overwrite?"}, created.version)
    assert raw_issue(redmine_server, created.key)["subject"] == "Theirs, same second"


@pytest.mark.live
def test_an_edit_between_the_last_read_and_the_write_is_a_conflict(connector, scope, redmine_server):
    """The edit lands after update() read the issue and before it writes: the
    lock_version the write carries makes Redmine refuse it."""
    created = connector.create(scope, {"title": "Ours"})
    edited = []

    def edit_after_the_check(response: httpx.Response) -> None:
        if response.request.method == "GET" and "allowed_statuses" in str(response.request.url) and not edited:
            raw_edit(redmine_server, created.key, subject="Theirs, in the window")
            edited.append(True)

    connector.client().event_hooks["response"].append(edit_after_the_check)
    with pytest.raises(ConflictError):
        connector.update(created.key, {"title": "Overwrite?"}, created.version)
    assert edited
    assert raw_issue(redmine_server, created.key)["subject"] == "Theirs, in the window"


@pytest.mark.live
def test_an_issue_whose_lock_version_cannot_be_guessed_is_still_updated(connector, scope, redmine_server):
    """A relation adds a journal without saving the issue: the guess (journals + 1) is
    one too many, Redmine refuses it, and the connector writes without it once it has
    seen that the issue did not change."""
    created = connector.create(scope, {"title": "Related"})
    other = connector.create(scope, {"title": "Other"})
    with api(redmine_server) as client:
        client.post(
            f"issues/{issue_number(other.key)}/relations.json",
            json={"relation": {"issue_to_id": issue_number(created.key), "relation_type": "relates"}},
        ).raise_for_status()
    puts = []
    connector.client().event_hooks["response"].append(
        lambda response: puts.append(response.status_code) if response.request.method == "PUT" else None
    )
    current = connector.get(created.key)
    assert current.version != created.version  # the relation's journal
    updated = connector.update(created.key, {"title": "Related, edited"}, current.version)
    assert updated.fields["title"] == "Related, edited"
    assert puts == [422, 204]
    with pytest.raises(ConflictError):
        connector.update(created.key, {"title": "Stale"}, current.version)


# --- change detection ----------------------------------------------------------------------


@pytest.mark.live
def test_changes_within_the_second_of_the_cursor_are_not_missed(make_connector, scope, redmine_server):
    connector = make_connector(settings={"overlap_seconds": 0})
    for _ in range(20):
        first = connector.create(scope, {"title": "first"})
        before = connector.changed_since(scope, "")
        assert first.key in [a.key for a in before.artifacts]
        edited = connector.update(first.key, {"title": "first, edited"}, first.version)
        second = connector.create(scope, {"title": "second"})
        if edited.updated_at == first.updated_at == second.updated_at:
            break
    else:
        pytest.fail("could not create, read and edit within one second in 20 tries")
    later = {a.key: a for a in connector.changed_since(scope, before.cursor).artifacts}
    assert later[first.key].fields["title"] == "first, edited"
    assert second.key in later


@pytest.mark.live
def test_settled_changes_are_not_returned_again(make_connector, scope, redmine_server):
    connector = make_connector(settings={"overlap_seconds": 0})
    created = connector.create(scope, {"title": "once"})
    wait_for_server_past(redmine_server, created.updated_at)
    changes = connector.changed_since(scope, "")
    assert [a.key for a in changes.artifacts] == [created.key]
    assert parse_cursor(changes.cursor) > created.updated_at
    again = connector.changed_since(scope, changes.cursor)
    assert again.artifacts == [] and again.cursor >= changes.cursor


@pytest.fixture(scope="module")
def many_issues(redmine_server) -> tuple[str, list[str]]:
    """A project with 130 issues (more than one page of Redmine's lists): its
    identifier and the issues' keys, oldest first."""
    identifier = f"many-{int(time.time() * 1000) % 10**9}"
    redmine_server.create_project(identifier)
    keys = []
    with api(redmine_server) as client:
        for number in range(130):
            answer = client.post("issues.json", json={"issue": {"project_id": identifier, "subject": f"n{number}"}})
            answer.raise_for_status()
            keys.append(f"#{answer.json()['issue']['id']}")
    return identifier, keys


@pytest.mark.live
def test_more_than_a_page_of_changes_is_read_to_the_end(connector, many_issues):
    scope, keys = many_issues
    changes = connector.changed_since(scope, "")
    assert [a.key for a in changes.artifacts] == keys


@pytest.mark.live
def test_a_limit_returns_whole_seconds_and_the_cursor_continues_to_the_end(make_connector, many_issues, redmine_server):
    scope, keys = many_issues
    connector = make_connector(settings={"overlap_seconds": 0})
    newest = connector.get(keys[-1]).updated_at
    wait_for_server_past(redmine_server, newest)
    seen, cursor, calls = [], "", 0
    while True:
        changes = connector.changed_since(scope, cursor, limit=40)
        calls += 1
        seconds = {a.updated_at for a in changes.artifacts}
        assert len(changes.artifacts) <= 40 or len(seconds) == 1
        seen += [a.key for a in changes.artifacts]
        if not changes.artifacts:
            break
        cursor = changes.cursor
        assert calls < 20
    assert sorted(seen, key=issue_number) == keys  # each once: settled seconds are not returned twice
    assert calls > 3


@pytest.mark.live
def test_issues_edited_while_the_list_is_read_hide_no_other(connector, many_issues, redmine_server):
    """Three issues of the first page change after it was read: they move to the end of
    the list, and the issues after them move up by three, past the next page's start."""
    scope, keys = many_issues
    edited = []

    def edit_after_the_first_page(response: httpx.Response) -> None:
        request = response.request
        if request.url.path.endswith("/issues.json") and request.url.params.get("offset") == "0" and not edited:
            for key in keys[10:13]:
                raw_edit(redmine_server, key, api_key=redmine_server.api_key, subject=f"moved {key}")
            edited.append(True)

    connector.client().event_hooks["response"].append(edit_after_the_first_page)
    seen = {a.key: a for a in connector.changed_since(scope, "").artifacts}
    assert edited
    assert set(keys) <= set(seen)
    assert seen[keys[11]].fields["title"] == f"moved {keys[11]}"


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.live
def test_a_wrong_api_key_is_a_repository_error(make_connector, scope, redmine_server):
    connector = make_connector(api_key="f" * 40)
    existing = connector_for(redmine_repository(redmine_server)).create(scope, {"title": "Exists"})
    for call in (
        connector.ping,
        lambda: connector.get(existing.key),
        lambda: connector.changed_since(scope, ""),
        lambda: connector.create(scope, {"title": "No"}),
        lambda: connector.update(existing.key, {"title": "No"}, existing.version),
        lambda: connector.check(scope, ["title"]),
    ):
        with pytest.raises(RepositoryError, match="refused our credentials"):
            call()


@pytest.mark.live
def test_what_the_key_may_not_see_fails_that_scope_or_issue_not_the_repository(
    make_connector, scope, redmine_server, unique_name
):
    private = f"{unique_name}-private"
    with api(redmine_server) as client:
        client.post(
            "projects.json", json={"project": {"name": private, "identifier": private, "is_public": False}}
        ).raise_for_status()
        hidden = client.post(
            "issues.json", json={"issue": {"project_id": scope, "subject": "Private", "is_private": True}}
        )
    hidden.raise_for_status()
    connector = make_connector(api_key=redmine_server.user_api_key)  # a Developer, not in the private project
    with pytest.raises(PermanentError, match=f"project '{private}'"):
        connector.changed_since(private, "")
    [problem] = connector.check(private, ["title"])
    assert f"project '{private}'" in problem
    with pytest.raises(PermanentError):
        connector.get(f"#{hidden.json()['issue']['id']}")
    connector.ping()  # the repository itself is fine


@pytest.mark.live
def test_redmines_refusal_names_the_field(connector, scope, redmine_server, unique_name):
    with api(redmine_server) as client:
        client.post(
            "users.json",
            json={"user": {"login": unique_name, "firstname": "Not", "lastname": "Member",
                           "mail": f"{unique_name}@example.invalid", "password": "not-a-member-1"}},
        ).raise_for_status()  # fmt: skip
    with pytest.raises(FieldRefused, match="field 'assignee': Assignee is invalid") as refused:
        connector.create(scope, {"title": "Assigned to a stranger", "assignee": unique_name})
    assert refused.value.field == "assignee"
    existing = connector.create(scope, {"title": "Has a subject"})
    with pytest.raises(FieldRefused, match="field 'title': Subject cannot be blank"):
        connector.update(existing.key, {"title": ""}, existing.version)
