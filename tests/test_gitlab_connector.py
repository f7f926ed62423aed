"""What the GitLab connector does beyond the conformance suite, against the in-process
fake of GitLab's documented API (tests/fakes/gitlab.py): fields both ways by name,
state events, self-managed base URLs, projects by path and by id, rate limits, stale
versions, change detection across pages and within one instant, and GitLab's
refusals. The first tests need no server: they read the connector's own formats."""

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from synchronizations.connectors import connector_for
from synchronizations.connectors.gitlab import (
    GitLabConnector,
    format_time,
    parse_cursor,
    parse_key,
    parse_scope,
    rate_limit_wait,
)
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PartlyCreated,
    PermanentError,
    RepositoryError,
    TransientError,
)
from synchronizations.models import Repository
from tests.fakes import Response
from tests.fakes.gitlab import DEVELOPER, GUEST, REPORTER, FakeGitLab, encoded
from tests.harness_gitlab import gitlab_repository

pytestmark = pytest.mark.django_db

# --- the connector's own formats (no server needed) ---------------------------------


@pytest.mark.parametrize(
    ("text", "project"),
    [("acme/web", "acme/web"), (" /acme/sub/web.site/ ", "acme/sub/web.site"), ("42", "42"), ("a_b/c-d", "a_b/c-d")],
)
def test_a_scope_is_a_project_path_or_id(text, project):
    assert parse_scope(text) == project


@pytest.mark.parametrize("text", ["", "web", "0", "acme/-web", "acme web/x", "acme//web", "acme/web#1"])
def test_anything_else_is_not_a_scope(text):
    with pytest.raises(PermanentError, match="not a GitLab scope"):
        parse_scope(text)


def test_keys_are_the_scopes_project_and_the_iid():
    assert parse_key("acme/web#12") == ("acme/web", 12)
    assert parse_key("42#7") == ("42", 7)
    assert [parse_key(key) for key in ("#12", "acme/web#0", "acme/web", "web#3", "acme/web#x")] == [None] * 5


def test_a_cursor_is_an_instant_to_the_millisecond_and_anything_else_starts_over():
    moment = datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert format_time(moment) == "2024-05-01T10:00:00.123Z"
    assert parse_cursor(format_time(moment)) == moment
    assert [parse_cursor(text) for text in ("", "2024-05-01T10:00:00Z", "garbage", "2024-13-01T10:00:00.000Z")] == [
        None
    ] * 4


def test_scopes_overlap_when_they_may_name_one_project():
    overlap = GitLabConnector.scopes_overlap
    assert overlap("acme/web", "ACME/Web") and overlap("acme/web", "42") and overlap("42", "42")
    assert not overlap("acme/web", "acme/ops") and not overlap("42", "43")


def test_a_rate_limits_wait_comes_from_retry_after_or_gitlabs_reset_headers():
    now = datetime(2024, 5, 1, 10, 0, 0, tzinfo=UTC)

    def answer(**headers):
        return httpx.Response(429, headers=headers, request=httpx.Request("GET", "http://x/"))

    assert rate_limit_wait(answer(**{"Retry-After": "30", "RateLimit-Reset": "1"}), now) == 30
    assert rate_limit_wait(answer(**{"RateLimit-Reset": str(int(now.timestamp()) + 45)}), now) == 45
    reset = format_datetime(now + timedelta(seconds=20), usegmt=True)
    assert rate_limit_wait(answer(**{"RateLimit-ResetTime": reset}), now) == 20
    assert rate_limit_wait(answer(), now) is None


@pytest.mark.parametrize(
    ("settings", "name"),
    [
        ({"overlap_seconds": -1}, "overlap_seconds"),
        ({"page_size": 101}, "page_size"),
        ({"create_labels": "yes"}, "create_labels"),
    ],
)
def test_a_bad_setting_is_refused_naming_it(settings, name):
    repository = gitlab_repository("https://gitlab.example.com", "t", **settings)
    with pytest.raises(PermanentError, match=name):
        GitLabConnector(repository)


def test_no_address_is_gitlab_com_and_an_api_address_is_its_instance():
    assert GitLabConnector(gitlab_repository("", "t")).base_url == "https://gitlab.com"
    assert (
        GitLabConnector(gitlab_repository("https://h.example/gitlab/api/v4/", "t")).base_url
        == "https://h.example/gitlab"
    )
    repository = Repository(name="G", kind="gitlab", base_url="")
    repository.clean()  # an empty address is allowed for GitLab (gitlab.com)


# --- against the fake -----------------------------------------------------------------


@pytest.fixture
def fake(gitlab_fake):
    return gitlab_fake


@pytest.fixture
def make_connector(fake):
    def make(**settings) -> GitLabConnector:
        token = settings.pop("token", fake.token)
        base_url = settings.pop("base_url", fake.url)
        return connector_for(gitlab_repository(base_url, token, **settings))

    return make


@pytest.fixture
def connector(make_connector):
    return make_connector()


def project(fake, path="acme/web"):
    return next(p for p in fake.projects.values() if p.path == path)


def writes(fake) -> list:
    return [r for r in fake.seen if r.method in ("POST", "PUT")]


def test_fields_are_written_and_read_by_name(fake, connector):
    created = connector.create(
        "acme/web",
        {
            "title": "  Crash on save ",
            "description": "Line 1\r\nLine 2",
            "labels": ["bug", "backend"],
            "assignees": ["alice"],
            "milestone": "v1.0",
        },
    )
    stored = project(fake).issues[1]
    alice = next(u for u in fake.users.values() if u["username"] == "alice")
    assert stored["title"] == "Crash on save" and stored["labels"] == ["backend", "bug"]
    assert stored["assignee_ids"] == [alice["id"]]
    assert project(fake).milestones[stored["milestone_id"]] == "v1.0"
    assert created.key == "acme/web#1"
    assert created.fields == {
        "title": "Crash on save",
        "description": "Line 1\nLine 2",
        "state": "opened",
        "labels": ["backend", "bug"],
        "assignees": ["alice"],
        "milestone": "v1.0",
    }
    # An edit made in GitLab reads back by name.
    fake.edit(project(fake), 1, labels=["frontend"], assignee_ids=[], milestone_id=None, description=None)
    assert connector.get("acme/web#1").fields | {"title": ""} == {
        "title": "",
        "description": "",
        "state": "opened",
        "labels": ["frontend"],
        "assignees": [],
        "milestone": "",
    }


def test_state_is_written_with_state_events(fake, connector):
    created = connector.create("acme/web", {"title": "Done already", "state": "closed"})
    post, put = writes(fake)
    assert "state_event" not in post.json and put.json == {"state_event": "close"}
    assert created.fields["state"] == "closed" and project(fake).issues[1]["closed_at"] is not None
    reopened = connector.update(created.key, {"state": "opened"}, created.version)
    assert writes(fake)[-1].json == {"state_event": "reopen"} and reopened.fields["state"] == "opened"
    fake.seen.clear()
    same = connector.update(created.key, {"state": "opened", "title": "Done already"}, reopened.version)
    assert writes(fake) == [] and same.version == reopened.version  # nothing differed: nothing written
    with pytest.raises(FieldRefused, match=r"'state'.*'resolved' is not a GitLab state"):
        connector.update(created.key, {"state": "resolved"}, same.version)


def test_a_self_managed_instance_under_a_path_prefix(db):
    fake = FakeGitLab(prefix="/gitlab").start()
    try:
        fake.add_user("syncweb")
        fake.add_project("acme/web", {"syncweb": DEVELOPER})
        token = fake.add_token("syncweb")
        connector = connector_for(gitlab_repository(fake.url + "/gitlab/", token))
        created = connector.create("acme/web", {"title": "Hello"})
        assert created.url == f"{fake.url}/gitlab/acme/web/-/issues/1" == connector.url(created.key)
        assert {request.path.split("/api/v4/")[0] for request in fake.seen} == {"/gitlab"}
        assert [a.key for a in connector.changed_since("acme/web", "").artifacts] == ["acme/web#1"]
        connector.ping()
    finally:
        fake.stop()


def test_a_project_by_path_is_looked_up_url_encoded_then_called_by_id(fake, connector):
    web = project(fake)
    connector.create("acme/web", {"title": "One"})
    lookup, post = fake.seen[0], fake.seen[-1]
    assert lookup.path == f"/api/v4/projects/{encoded('acme/web')}" and "%2F" in lookup.path
    assert post.path == f"/api/v4/projects/{web.id}/issues"


def test_a_project_by_id_gives_keys_with_the_id_and_urls_with_the_path(fake, connector):
    web = project(fake)
    created = connector.create(str(web.id), {"title": "By id"})
    assert created.key == f"{web.id}#1" and created.url.endswith("/acme/web/-/issues/1")
    assert connector.get(created.key).fields["title"] == "By id"
    assert [a.key for a in connector.changed_since(str(web.id), "").artifacts] == [created.key]
    assert connector_for(connector.repository).url(created.key) == created.url  # looked up for the URL


def test_a_moved_project_keeps_working_through_its_old_path(fake, make_connector):
    created = make_connector().create("acme/web", {"title": "Before the move"})
    fake.move_project(project(fake), "acme/website")
    connector = make_connector()  # a new connector looks the project up again
    updated = connector.update(created.key, {"title": "After the move"}, created.version)
    assert updated.key == "acme/web#1" and updated.url.endswith("/acme/website/-/issues/1")
    lookups = [r.path for r in fake.seen if "/projects/" in r.path and "/issues" not in r.path]
    assert lookups[-2:] == [
        f"/api/v4/projects/{encoded('acme/web')}",
        f"/api/v4/projects/{project(fake, 'acme/website').id}",
    ]


def test_a_rate_limit_is_a_transient_error_with_gitlabs_wait(fake, connector):
    fake.fail_next(Response(429, "Retry later", {"Retry-After": "17", "Content-Type": "text/plain"}))
    with pytest.raises(TransientError, match="rate limiting") as caught:
        connector.ping()
    assert caught.value.retry_after == 17
    fake.rate_limit(2, period=60)
    connector.ping()
    connector.ping()
    with pytest.raises(TransientError) as caught:
        connector.ping()
    assert 0 < caught.value.retry_after <= 60
    assert fake.seen[-1].headers["private-token"] == fake.token


def test_an_edit_since_the_read_is_a_conflict_and_is_not_overwritten(fake, connector):
    created = connector.create("acme/web", {"title": "Ours", "labels": ["bug"]})
    fake.edit(project(fake), 1, title="Theirs")
    fake.seen.clear()
    with pytest.raises(ConflictError, match="changed in"):
        connector.update(created.key, {"title": "Ours again"}, created.version)
    assert writes(fake) == [] and project(fake).issues[1]["title"] == "Theirs"


def test_an_update_writes_only_what_differs_from_the_issue_as_read(fake, connector):
    created = connector.create("acme/web", {"title": "T", "labels": ["bug"], "milestone": "v1.0"})
    connector.update(created.key, {"title": "T", "labels": ["bug"], "milestone": "v2.0"}, created.version)
    assert writes(fake)[-1].json == {"milestone_id": project(fake).issues[1]["milestone_id"]}
    assert connector.get(created.key).fields["milestone"] == "v2.0"


def test_unknown_names_are_refused_naming_field_and_value_before_anything_is_written(fake, connector):
    for fields, field, value in (
        ({"assignees": ["nobody"]}, "assignees", "nobody"),
        ({"milestone": "v9"}, "milestone", "v9"),
        ({"labels": ["bug", "typo"]}, "labels", "typo"),
        ({"priority": "High"}, "priority", "no such field"),
    ):
        with pytest.raises(FieldRefused, match=f"'{field}'.*{value}") as caught:
            connector.create("acme/web", {"title": "t", **fields})
        assert caught.value.field == field
    assert writes(fake) == [] and project(fake).issues == {}


def test_labels_gitlab_would_create_are_created_only_when_the_setting_says_so(fake, make_connector):
    connector = make_connector(create_labels=True)
    created = connector.create("acme/web", {"title": "t", "labels": "brand-new"})
    assert created.fields["labels"] == ["brand-new"] and "brand-new" in project(fake).labels
    with pytest.raises(FieldRefused, match="comma"):
        connector.update(created.key, {"labels": ["a,b"]}, created.version)


def test_a_label_or_milestone_of_the_group_and_one_added_since_are_found(fake, connector):
    connector.create("acme/web", {"title": "t", "labels": ["bug"]})  # labels now cached
    fake.add_label(None, "team::web", group="acme")
    fake.add_milestone(None, "2025-Q1", group="acme")
    created = connector.create("acme/web", {"title": "u", "labels": ["team::web"], "milestone": "2025-Q1"})
    assert created.fields["labels"] == ["team::web"] and created.fields["milestone"] == "2025-Q1"


def test_a_second_assignee_dropped_by_gitlab_free_is_refused_after_the_write(fake, connector):
    created = connector.create("acme/web", {"title": "t"})
    fake.seen.clear()
    with pytest.raises(FieldRefused, match=r"'assignees'.*GitLab Free keeps one assignee") as caught:
        connector.update(created.key, {"assignees": ["alice", "syncweb"]}, created.version)
    assert caught.value.field == "assignees" and len(writes(fake)) == 1


def test_several_assignees_are_kept_where_gitlab_allows_them(db):
    fake = FakeGitLab(multiple_assignees=True).start()
    try:
        for name in ("syncweb", "alice"):
            fake.add_user(name)
        fake.add_project("acme/web", {"syncweb": DEVELOPER, "alice": REPORTER})
        connector = connector_for(gitlab_repository(fake.url, fake.add_token("syncweb")))
        created = connector.create("acme/web", {"title": "t", "assignees": ["syncweb", "Alice"]})
        assert created.fields["assignees"] == ["alice", "syncweb"]
    finally:
        fake.stop()


def test_a_user_who_cannot_see_the_project_is_refused_after_the_write(fake, connector):
    created = connector.create("acme/web", {"title": "t"})
    with pytest.raises(FieldRefused, match=r"'assignees'.*kept \[\] instead of \['bob'\]"):
        connector.update(created.key, {"assignees": ["bob"]}, created.version)


def test_get_many_reads_a_projects_issues_in_one_call_and_reports_missing_ones(fake, connector):
    keys = [connector.create("acme/web", {"title": f"n{i}"}).key for i in range(3)]
    other = connector.create("acme/ops", {"title": "ops"}).key
    fake.seen.clear()
    found = connector.get_many([*keys, "acme/web#99", other, "not a key", "acme/gone#1"])
    assert [found[key].fields["title"] for key in keys] == ["n0", "n1", "n2"] and found[other].key == other
    assert all(isinstance(found[key], ArtifactDeleted) for key in ("acme/web#99", "not a key"))
    # A project that does not answer is not "deleted": its Recreate would copy an issue that may still exist.
    assert isinstance(found["acme/gone#1"], PermanentError) and not isinstance(found["acme/gone#1"], ArtifactDeleted)
    lists = [r for r in fake.seen if r.path.endswith("/issues")]
    assert len(lists) == 2 and lists[0].query["iids[]"] == ["1", "2", "3", "99"]


def test_a_missing_issue_is_deleted_and_a_missing_project_or_scope_is_permanent(fake, connector):
    """A project that does not answer (deleted, hidden from the token, or a base URL
    that is not GitLab's) is no proof its issues are gone: not "deleted", whose
    Recreate would copy them again (found by a user trial with a wrong base URL)."""
    created = connector.create("acme/web", {"title": "t"})
    fake.delete_issue(project(fake), 1)
    with pytest.raises(ArtifactDeleted):
        connector.get(created.key)
    with pytest.raises(PermanentError, match="its project 'acme/nothing' does not answer") as caught:
        connector.get("acme/nothing#1")
    assert not isinstance(caught.value, ArtifactDeleted)
    with pytest.raises(PermanentError, match="does not exist") as caught:
        connector.changed_since("acme/nothing", "")
    assert not isinstance(caught.value, ArtifactDeleted)


def test_a_project_with_issues_turned_off_fails_its_scope_not_the_repository(fake, connector):
    project(fake).issues_enabled = False
    with pytest.raises(PermanentError, match="issues are turned off") as caught:
        connector.changed_since("acme/web", "")
    assert not isinstance(caught.value, RepositoryError)
    assert any("issues turned off" in p for p in connector.check("acme/web", ["title"]))


def test_a_read_only_token_reads_but_its_writes_fail_saying_why(fake, make_connector):
    connector = make_connector(token=fake.add_token("syncweb", scopes=("read_api",)))
    assert connector.changed_since("acme/web", "").artifacts == []
    with pytest.raises(PermanentError, match="no scope 'api'") as caught:
        connector.create("acme/web", {"title": "t"})
    assert not isinstance(caught.value, RepositoryError)
    assert any("without 'api'" in p for p in connector.check("acme/web", ["title"]))


def test_a_guests_token_is_told_apart_by_check_and_refused_edits(fake, make_connector):
    fake.add_user("guest")
    project(fake).members[next(u["id"] for u in fake.users.values() if u["username"] == "guest")] = GUEST
    owner = make_connector()
    created = owner.create("acme/web", {"title": "t"})
    guest = make_connector(token=fake.add_token("guest"))
    assert any("Guest" in p for p in guest.check("acme/web", ["title"]))
    with pytest.raises(PermanentError, match="denied access to acme/web#1"):
        guest.update(created.key, {"title": "u"}, created.version)


def test_gitlabs_refusals_name_the_field(fake, connector):
    fake.fail_next(Response(400, {"message": {"assignee_ids": ["is invalid"]}}))
    with pytest.raises(FieldRefused, match="'assignees'"):
        connector.ping()
    fake.fail_next(Response(400, {"error": "milestone_id is invalid"}))
    with pytest.raises(FieldRefused, match="'milestone'"):
        connector.ping()
    with pytest.raises(FieldRefused, match="'description'"):
        connector.create("acme/web", {"title": "t", "description": "x" * 1_048_577})


def test_wrong_credentials_pause_the_repository(fake, make_connector):
    with pytest.raises(RepositoryError, match="401"):
        make_connector(token="glpat-wrong").ping()


# --- change detection -----------------------------------------------------------------


def all_changes(connector, scope, cursor="", limit=500) -> tuple[list, str]:
    seen = []
    for _ in range(100):
        changes = connector.changed_since(scope, cursor, limit)
        seen += changes.artifacts
        if not changes.artifacts or changes.cursor == cursor:
            return seen, changes.cursor
        cursor = changes.cursor
    raise AssertionError("never reached the end")


def test_changes_are_read_across_pages_oldest_first(fake, connector):
    keys = [connector.create("acme/web", {"title": f"n{i}"}).key for i in range(17)]
    changes = connector.changed_since("acme/web", "")
    assert [a.key for a in changes.artifacts] == keys
    lists = [r for r in fake.seen if r.path.endswith("/issues") and r.method == "GET"]
    assert {r.query["order_by"][0] + r.query["sort"][0] for r in lists} == {"updated_atasc"}
    assert all(r.query["page"] == ["1"] for r in lists) and len(lists) >= 3  # re-anchored, not paged by number


def test_issues_edited_while_the_list_is_read_hide_no_other(fake, connector):
    keys = [connector.create("acme/web", {"title": f"n{i}"}).key for i in range(20)]
    edited = iter(range(1, 21, 3))

    def edit_one(listed):
        iid = next(edited, None)
        if iid is not None:
            fake.edit(listed, iid, title=f"edited {iid}")

    fake.after_list = edit_one
    seen = connector.changed_since("acme/web", "").artifacts  # one call: no later call makes up for a miss
    fake.after_list = None
    assert {a.key for a in seen} == set(keys) and len(seen) == len(keys)


def test_a_limit_returns_whole_instants_and_the_cursor_continues_to_the_end(fake, make_connector):
    connector = make_connector(overlap_seconds=0)
    base = datetime.now(UTC) - timedelta(hours=1)
    moments = iter([base + timedelta(milliseconds=m) for m in (0, 0, 0, 5, 5, 9, 12, 12, 12, 12)])
    fake.clock = lambda: next(moments)
    keys = [connector.create("acme/web", {"title": f"n{i}"}).key for i in range(10)]
    first = connector.changed_since("acme/web", "", limit=4)
    assert [a.key for a in first.artifacts] == keys[:3] and first.cursor == format_time(
        base + timedelta(milliseconds=5)
    )
    rest, cursor = all_changes(connector, "acme/web", first.cursor, limit=4)
    assert [a.key for a in rest] == keys[3:]
    # Settled: an hour old, past the overlap: not returned again.
    assert connector.changed_since("acme/web", cursor).artifacts == []


def test_an_instant_holding_more_than_a_page_is_read_whole(fake, connector):
    moment = datetime.now(UTC).replace(microsecond=250_000)
    fake.clock = lambda: moment  # every write in one instant (GitLab shows milliseconds)
    keys = {connector.create("acme/web", {"title": f"n{i}"}).key for i in range(16)}
    fake.clock = lambda: datetime.now(UTC)
    later = connector.create("acme/web", {"title": "later"})
    changes = connector.changed_since("acme/web", "")
    assert {a.key for a in changes.artifacts} == keys | {later.key}
    numbered = [r for r in fake.seen if r.query.get("updated_before")]
    assert numbered and {r.query["page"][0] for r in numbered} == {"1", "2", "3"}


def test_changes_within_the_second_of_the_cursor_are_not_missed(fake, connector):
    created = connector.create("acme/web", {"title": "one"})
    cursor = connector.changed_since("acme/web", "").cursor
    edited = connector.update(created.key, {"title": "two"}, created.version)  # within the same second
    again = connector.changed_since("acme/web", cursor)
    assert [(a.key, a.fields["title"], a.version) for a in again.artifacts] == [(created.key, "two", edited.version)]


def test_an_unreadable_cursor_starts_from_the_beginning(connector):
    created = connector.create("acme/web", {"title": "one"})
    assert [a.key for a in connector.changed_since("acme/web", "not a cursor").artifacts] == [created.key]


# --- the fake answers as GitLab documents it ------------------------------------------


@pytest.fixture
def api(fake):
    with httpx.Client(base_url=f"{fake.url}/api/v4", headers={"PRIVATE-TOKEN": fake.token}) as client:
        yield client


def test_the_fake_pages_with_gitlabs_headers_and_shows_milliseconds(fake, api):
    for i in range(5):
        api.post(f"/projects/{encoded('acme/web')}/issues", json={"title": f"n{i}"}).raise_for_status()
    answer = api.get(f"/projects/{encoded('acme/web')}/issues", params={"per_page": 2, "page": 2})
    assert [issue["iid"] for issue in answer.json()] == [3, 2]  # created_at desc by default
    headers = answer.headers
    assert (headers["x-page"], headers["x-next-page"], headers["x-prev-page"]) == ("2", "3", "1")
    assert (headers["x-total"], headers["x-total-pages"]) == ("5", "3")
    assert 'rel="next"' in headers["link"] and 'rel="last"' in headers["link"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", answer.json()[0]["updated_at"])
    moment = answer.json()[0]["updated_at"]
    after = api.get(f"/projects/{encoded('acme/web')}/issues", params={"updated_after": moment})
    assert 3 in [issue["iid"] for issue in after.json()]  # inclusive: the issue of that very time
    assert api.get(f"/projects/{encoded('acme/web')}/issues", params={"updated_after": "soon"}).json() == {
        "error": "updated_after is invalid"
    }


def test_the_fake_refuses_as_gitlab_does(fake, api):
    web = f"/projects/{encoded('acme/web')}"
    assert api.get("/projects/acme/web/issues").status_code == 404  # an unencoded path matches no route
    assert api.post(f"{web}/issues", json={}).json() == {"error": "title is missing"}
    assert api.post(f"{web}/issues", json={"title": " "}).json() == {"message": {"title": ["can't be blank"]}}
    assert api.get(f"{web}/issues/9").json() == {"message": "404 Issue Not Found"}
    assert api.get("/user", headers={"PRIVATE-TOKEN": "wrong"}).status_code == 401
    fake.move_project(project(fake), "acme/website")
    moved = api.get(web)
    assert moved.status_code == 301 and moved.headers["location"].endswith(
        f"/api/v4/projects/{project(fake, 'acme/website').id}"
    )
    assert api.post(f"{web}/issues", json={"title": "t"}).status_code == 405
    fake.rate_limit(1)
    api.get("/user")
    limited = api.get("/user")
    assert (limited.status_code, limited.text) == (429, "Retry later")
    assert {"retry-after", "ratelimit-reset", "ratelimit-resettime", "ratelimit-remaining"} <= set(limited.headers)


def test_an_unreachable_gitlab_fails_get_many_as_a_whole(make_connector):
    from trackers import free_port

    connector = make_connector(base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientError):
        connector.get_many(["acme/web#1", "acme/ops#2"])


def test_a_new_issue_gitlab_did_not_close_is_partly_created_and_linked_not_lost(fake, connector):
    """GitLab creates issues open; the update that closes it failing (a rate limit)
    leaves an open issue, said as a PartlyCreated carrying it."""
    original = fake.dispatch

    def limited(request):
        if request.method == "PUT":
            return Response(429, {"message": "Retry later"}, {"Retry-After": "5"})
        return original(request)

    fake.dispatch = limited
    with pytest.raises(PartlyCreated) as partly:
        connector.create("acme/web", {"title": "Done already", "state": "closed"})
    issue = partly.value.artifact
    assert issue.fields["state"] == "opened" and partly.value.fields == ["state"]
    assert isinstance(partly.value.error, TransientError) and partly.value.error.retry_after == 5
    assert connector.get(issue.key).fields["title"] == "Done already"
