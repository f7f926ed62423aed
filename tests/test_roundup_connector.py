"""What is particular to the Roundup connector, against a live Roundup tracker (the
``roundup_server`` fixture; skipped, saying why, where Roundup is not installed): names
and ids, the keyword scope, messages, the ETag, change detection within one second,
refused credentials. The cursor's arithmetic is tested without a tracker."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from synchronizations.connectors import Artifact, connector_for
from synchronizations.connectors.roundup import (
    as_written,
    format_cursor,
    is_settled,
    missing_texts,
    parse_cursor,
    rows_after,
)
from synchronizations.engine import process
from synchronizations.engine.detect import detect_changes
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    RepositoryError,
)
from synchronizations.models import Mapping, Repository, Synchronization, SyncStatus
from tests.conftest import wait_for
from tests.harness_roundup import create_keyword, roundup_admin, roundup_connector

live = pytest.mark.live


# --- helpers -------------------------------------------------------------------------


def admin_get(server, path: str, **params) -> dict:
    with roundup_admin(server) as admin:
        response = admin.get(path, params=params)
    response.raise_for_status()
    return response.json()["data"]


def admin_edit(server, issue_key: str, **props) -> None:
    """Edits an issue as the administrator (someone else than the connector's user)."""
    path = f"data/issue/{issue_key.removeprefix('issue')}"
    with roundup_admin(server) as admin:
        etag = admin.get(path).json()["data"]["@etag"]
        answer = admin.put(path, json=props, headers={"If-Match": etag})
        assert answer.is_success, answer.text


def user_id(server, username: str) -> str:
    return admin_get(server, "data/user", **{"username:": username})["collection"][0]["id"]


def issue_count(server) -> int:
    return admin_get(server, "data/issue")["@total_size"]


def message_count(server) -> int:
    return admin_get(server, "data/msg")["@total_size"]


def list_requests(server) -> int:
    """How many lists of issues the tracker has served (from its request log)."""
    return server.log_path.read_text().count(f"GET /{server.tracker_name}/rest/data/issue?")


def follow(connector, scope: str, cursor: str, limit: int = 500) -> tuple[list[str], str]:
    """The keys every call returns, following the cursor until it stops moving."""
    keys = []
    for _ in range(100):
        changes = connector.changed_since(scope, cursor, limit=limit)
        keys += [artifact.key for artifact in changes.artifacts]
        if changes.cursor == cursor:
            return keys, cursor
        cursor = changes.cursor
    raise AssertionError("the cursor never stopped moving")


def settled_cursor(connector, scope: str) -> str:
    """The cursor once every change so far in ``scope`` is settled (it moves no more
    and the next call returns nothing)."""

    def settled():
        _, cursor = follow(connector, scope, "")
        return cursor if cursor and not connector.changed_since(scope, cursor).artifacts else None

    return wait_for(settled, 20, "the changes to settle", interval=0.5)


@pytest.fixture
def roundup(roundup_harness):
    """(server, connector, scope) of a fresh keyword scope; the connector logs in as
    the tracker's second user, with settle_seconds 1."""
    return roundup_harness.extra["server"], roundup_harness.connector, roundup_harness.scope


# --- names and ids -------------------------------------------------------------------


@live
def test_names_are_written_as_roundups_ids_and_read_back_as_names(roundup):
    server, connector, scope = roundup
    other = create_keyword(server, f"{scope}-extra")
    fields = {
        "title": "  Names  ",
        "status": "chatting",
        "priority": "urgent",
        "assignedto": server.admin_login,
        "keywords": [f"{scope}-extra"],
    }
    created = connector.create(scope, fields)

    stored = admin_get(server, f"data/issue/{created.key.removeprefix('issue')}", **{"@verbose": "0"})["attributes"]
    statuses = {s["name"]: s["id"] for s in admin_get(server, "data/status", **{"@verbose": "2"})["collection"]}
    assert stored["status"] == statuses["chatting"]
    assert stored["assignedto"] == user_id(server, server.admin_login)
    assert other in stored["keyword"]
    read = connector.get(created.key)
    assert read.fields["title"] == "Names"
    assert read.fields["status"] == "chatting" and read.fields["priority"] == "urgent"
    assert read.fields["assignedto"] == server.admin_login
    assert read.fields["keywords"] == sorted([scope, f"{scope}-extra"])
    assert read.url == f"{server.base_url}{created.key}" and read.key.startswith("issue")


@live
@pytest.mark.parametrize(
    ("field", "value"),
    [("status", "no-such-status"), ("priority", "no-such-priority"), ("assignedto", "no-such-user"),
     ("keywords", ["no-such-keyword"])],
)  # fmt: skip
def test_a_name_roundup_does_not_have_is_refused_naming_field_and_value_before_any_write(roundup, field, value):
    server, connector, scope = roundup
    issues, messages = issue_count(server), message_count(server)
    with pytest.raises(FieldRefused, match=f"field '{field}'.*no-such") as refused:
        connector.create(scope, {"title": "t", "messages": ["a message"], field: value})
    assert refused.value.field == field
    assert (issue_count(server), message_count(server)) == (issues, messages)
    created = connector.create(scope, {"title": "t"})
    with pytest.raises(FieldRefused, match=f"field '{field}'.*no-such"):
        connector.update(created.key, {"messages": ["a message"], field: value}, created.version)
    assert connector.get(created.key).fields["messages"] == [] and message_count(server) == messages


@live
def test_a_property_roundup_refuses_is_named_from_its_error(roundup):
    _, connector, scope = roundup
    with pytest.raises(FieldRefused, match="'bogus'") as refused:
        connector.create(scope, {"title": "t", "bogus": "1"})
    assert refused.value.field == "bogus"


@live
def test_check_knows_the_fixed_fields_roundups_properties_and_the_keyword_scope(roundup):
    _, connector, scope = roundup
    assert connector.check(scope, ["title", "status", "priority", "assignedto", "keywords", "messages", "nosy"]) == []
    problems = connector.check("no-such-keyword-xyz", ["keyword", "activity", "no_such_property", "a,b"])
    assert len(problems) == 5
    assert "scope keyword 'no-such-keyword-xyz' does not exist" in problems[0]
    assert "'keyword' is called 'keywords'" in problems[1]
    assert "'activity' is maintained by Roundup" in problems[2]
    assert "'no_such_property' does not exist" in problems[3] and "'a,b' does not exist" in problems[4]


# --- the keyword scope ---------------------------------------------------------------


@live
def test_a_missing_scope_keyword_is_a_permanent_error_and_creates_nothing(roundup):
    server, connector, _ = roundup
    issues = issue_count(server)
    for call in (
        lambda: connector.create("no-such-keyword-xyz", {"title": "t"}),
        lambda: connector.changed_since("no-such-keyword-xyz", ""),
    ):
        with pytest.raises(PermanentError, match="scope keyword 'no-such-keyword-xyz' does not exist"):
            call()
    assert issue_count(server) == issues


@live
def test_an_update_of_the_keywords_keeps_the_keyword_of_a_mappings_scope(roundup):
    server, connector, scope = roundup
    create_keyword(server, f"{scope}-a")
    create_keyword(server, f"{scope}-b")
    Mapping.objects.create(
        name=f"Keeps {scope}", left=connector.repository, left_scope=scope,
        right=Repository.objects.create(name=f"Other side {scope}"), right_scope="X",
    )  # fmt: skip
    created = connector.create(scope, {"title": "t", "keywords": [f"{scope}-a"]})
    updated = connector.update(created.key, {"keywords": [f"{scope}-b"]}, created.version)
    assert updated.fields["keywords"] == [scope, f"{scope}-b"]
    assert connector.get(created.key).fields == updated.fields
    assert created.key in follow(connector, scope, "")[0]


# --- messages ------------------------------------------------------------------------


@live
def test_messages_are_appended_by_our_user_and_never_replaced(roundup):
    server, connector, scope = roundup
    created = connector.create(scope, {"title": "t", "messages": ["first\n"]})
    assert created.fields["messages"] == ["first"]

    after_one = connector.update(created.key, {"messages": ["second"]}, created.version)
    assert after_one.fields["messages"] == ["first", "second"]
    after_all = connector.update(created.key, {"messages": ["first", "second", "third"]}, after_one.version)
    assert after_all.fields["messages"] == ["first", "second", "third"]
    same = connector.update(created.key, {"messages": []}, after_all.version)
    assert same.fields["messages"] == ["first", "second", "third"] and same.version == after_all.version
    repeated = connector.update(created.key, {"messages": ["first", "first"]}, same.version)
    assert repeated.fields["messages"] == ["first", "second", "third", "first"]
    assert connector.get(created.key).fields == repeated.fields

    issue = admin_get(server, f"data/issue/{created.key.removeprefix('issue')}", **{"@verbose": "0"})
    me = user_id(server, server.user_login)
    authors = {
        admin_get(server, f"data/msg/{i}", **{"@verbose": "0"})["attributes"]["author"]
        for i in issue["attributes"]["messages"]
    }
    assert authors == {me}


@live
def test_messages_written_elsewhere_are_read_oldest_first(roundup):
    server, connector, scope = roundup
    created = connector.create(scope, {"title": "t", "messages": ["ours"]})
    admin = user_id(server, server.admin_login)
    with roundup_admin(server) as client:
        theirs = client.post("data/msg", json={"content": "theirs", "author": admin}).json()["data"]["id"]
    ours = admin_get(server, f"data/issue/{created.key.removeprefix('issue')}", **{"@verbose": "0"})
    # The nosy list: only the new message's author. The test tracker has no mail host,
    # and Roundup mails a new message to the rest of the nosy list (here: us, the
    # author of the first message).
    admin_edit(server, created.key, messages=[*ours["attributes"]["messages"], theirs], nosy=[admin])
    assert connector.get(created.key).fields["messages"] == ["ours", "theirs"]


# --- versions ------------------------------------------------------------------------


@live
def test_roundup_itself_refuses_an_update_at_a_stale_etag(roundup):
    server, connector, scope = roundup
    created = connector.create(scope, {"title": "ours", "status": "unread"})
    admin_edit(server, created.key, title="theirs")
    with pytest.raises(ConflictError, match="HTTP 412"):  # the PUT's If-Match, refused by Roundup
        connector.update(created.key, {"status": "chatting"}, created.version)
    messages = message_count(server)
    with pytest.raises(ConflictError):  # read first (messages are appended): nothing is written
        connector.update(created.key, {"messages": ["late"]}, created.version)
    read = connector.get(created.key)
    assert read.fields["title"] == "theirs" and read.fields["status"] == "unread" and read.fields["messages"] == []
    assert message_count(server) == messages


@live
def test_a_retired_issue_is_reported_deleted(roundup):
    server, connector, scope = roundup
    created = connector.create(scope, {"title": "t"})
    with roundup_admin(server) as admin:
        path = f"data/issue/{created.key.removeprefix('issue')}"
        admin.delete(path, headers={"If-Match": admin.get(path).json()["data"]["@etag"]}).raise_for_status()
    with pytest.raises(ArtifactDeleted, match=f"{created.key} was deleted in"):
        connector.get(created.key)


# --- change detection ----------------------------------------------------------------


@live
def test_an_issue_changed_again_in_the_same_second_is_not_missed(roundup):
    """Roundup's activity has one-second resolution: a cursor taken in a second that
    has not ended must not hide what changes later in that second."""
    _, connector, scope = roundup

    def in_one_second():
        first = connector.create(scope, {"title": "one"})
        changes = connector.changed_since(scope, "")
        edited = connector.update(first.key, {"title": "one, edited"}, first.version)
        second = connector.create(scope, {"title": "two"})
        same = first.updated_at == edited.updated_at == second.updated_at
        return (changes, first, second) if same else None

    changes, first, second = wait_for(in_one_second, 30, "three writes within one second", interval=0)
    assert [a.key for a in changes.artifacts][-1] == first.key
    later = connector.changed_since(scope, changes.cursor).artifacts
    assert {a.key: a.fields["title"] for a in later if a.key in (first.key, second.key)} == {
        first.key: "one, edited",
        second.key: "two",
    }


@live
def test_the_cursor_passes_settled_seconds_and_then_sees_only_later_changes(roundup):
    server, connector, scope = roundup
    created = connector.create(scope, {"title": "t"})
    cursor = settled_cursor(connector, scope)
    second, issue_id = parse_cursor(cursor)
    assert (second, f"issue{issue_id}") == (created.updated_at.strftime("%Y-%m-%d.%H:%M:%S"), created.key)
    admin_edit(server, created.key, title="edited elsewhere")
    assert [(a.key, a.fields["title"]) for a in connector.changed_since(scope, cursor).artifacts] == [
        (created.key, "edited elsewhere")
    ]


@live
def test_a_second_with_more_issues_than_a_page_is_read_one_issue_at_a_time(roundup):
    """Page size 1, one issue per call: each page must find the cursor's issue among
    the issues of its second (the page grows) and go on after it."""
    server, connector, scope = roundup
    keys = [connector.create(scope, {"title": f"n{i}"}).key for i in range(4)]
    settled_cursor(connector, scope)
    one_by_one = roundup_connector(server, connector.repository.name, settings={"page_size": 1})
    seen, cursor = follow(one_by_one, scope, "", limit=1)
    assert seen == keys
    lists = list_requests(server)
    assert one_by_one.changed_since(scope, cursor, limit=1).artifacts == []
    assert 1 <= list_requests(server) - lists <= 4  # pages of 1, 2, 4 and 8 issues, then the end


@live
def test_the_users_time_zone_does_not_shift_change_detection(roundup):
    """Roundup reads times in a filter in the user's time zone (and shows them in
    UTC): a sync user west of UTC must not skip the changes of the last hours."""
    server, _, scope = roundup
    username = f"west-{scope}"
    with roundup_admin(server) as admin:
        admin.post(
            "data/user",
            json={"username": username, "password": "west-password", "roles": "User",
                  "address": f"{username}@example.invalid", "timezone": "-5"},
        ).raise_for_status()  # fmt: skip
    west = roundup_connector(server, f"West {scope}", username=username, password="west-password")
    created = west.create(scope, {"title": "t"})
    cursor = settled_cursor(west, scope)
    admin_edit(server, created.key, title="edited")
    assert [a.key for a in west.changed_since(scope, cursor).artifacts] == [created.key]


# --- with the engine -----------------------------------------------------------------


def detect_and_process(mapping) -> tuple:
    """One change detection, then every pending sync processed; (created, changed)."""
    detection = detect_changes(mapping.pk)
    assert not detection.error, detection.error
    for sync in Synchronization.objects.filter(mapping=mapping, status=SyncStatus.PENDING):
        process.process_sync(sync.pk, f"job-{sync.pk}-{timezone.now().timestamp()}")
    return detection.created, detection.changed


@live
def test_the_engine_carries_an_issue_both_ways_without_echoes(roundup):
    server, connector, scope = roundup
    sandbox = Repository.objects.create(name=f"Sandbox {scope}", kind="sandbox", settings={"key_prefix": "S"})
    mapping = Mapping.objects.create(
        name=f"Sandbox to Roundup {scope}", left=sandbox, right=connector.repository, right_scope=scope,
        field_map=[
            {"left": "title", "right": "title", "direction": "both"},
            {"left": "state", "right": "status", "direction": "both",
             "values": {"Open": "unread", "Doing": "chatting"}},
            {"left": "comments", "right": "messages", "direction": "both"},
        ],
    )  # fmt: skip
    left = connector_for(sandbox)
    created = left.create("", {"title": "Crash", "state": "Open", "comments": ["It crashes."]})
    assert detect_and_process(mapping) == (1, 0)
    sync = Synchronization.objects.get(mapping=mapping)
    assert sync.status == SyncStatus.OK, sync.error_message
    issue = connector.get(sync.right_key)
    assert (issue.fields["title"], issue.fields["status"], issue.fields["messages"]) == (
        "Crash",
        "unread",
        ["It crashes."],
    )
    assert scope in issue.fields["keywords"]
    assert detect_and_process(mapping) == (0, 0)  # our own write, seen again: no echo

    admin_edit(server, sync.right_key, status="chatting", title="Crash on start")
    assert detect_and_process(mapping) == (0, 1)
    assert left.get(created.key).fields == {"title": "Crash on start", "state": "Doing", "comments": ["It crashes."]}
    assert detect_and_process(mapping) == (0, 0)
    assert Synchronization.objects.get(mapping=mapping).status == SyncStatus.OK


# --- credentials ---------------------------------------------------------------------


@live
def test_a_wrong_password_is_a_repository_error_for_every_call(roundup):
    server, connector, scope = roundup
    created = connector.create(scope, {"title": "t"})
    wrong = roundup_connector(server, connector.repository.name, password="not-the-password")
    for call in (
        wrong.ping,
        lambda: wrong.check(scope, ["title"]),
        lambda: wrong.get(created.key),
        lambda: wrong.changed_since(scope, ""),
        lambda: wrong.create(scope, {"title": "t"}),
        lambda: wrong.update(created.key, {"title": "x"}, created.version),
    ):
        with pytest.raises(RepositoryError, match="refused our credentials") as refused:
            call()
        assert refused.value.repository_id == connector.repository.pk
        assert "not-the-password" not in refused.value.detail


@live
def test_a_revoked_password_is_a_repository_error(roundup):
    server, _, scope = roundup
    username = f"revoked-{scope}"
    with roundup_admin(server) as admin:
        user = admin.post(
            "data/user",
            json={"username": username, "password": "old-password", "roles": "User",
                  "address": f"{username}@example.invalid"},
        ).json()["data"]["id"]  # fmt: skip
    connector = roundup_connector(server, f"Revoked {scope}", username=username, password="old-password")
    connector.ping()
    with roundup_admin(server) as admin:
        etag = admin.get(f"data/user/{user}").json()["data"]["@etag"]
        admin.put(f"data/user/{user}", json={"password": "new-password"}, headers={"If-Match": etag}).raise_for_status()
    with pytest.raises(RepositoryError, match="HTTP 401"):
        connector.ping()


# --- without a tracker ---------------------------------------------------------------


def test_a_cursor_is_a_second_and_an_issue_and_anything_else_starts_over():
    assert parse_cursor(format_cursor("2025-03-01.12:00:07", "42")) == ("2025-03-01.12:00:07", "42")
    for unreadable in ("", "17", "2025-03-01.12:00:07", "2025-03-01.12:00:07|", "2025-03-01 12:00:07|4", "x|4"):
        assert parse_cursor(unreadable) == ("", "")
    assert format_cursor("", "") == ""


def test_rows_after_the_cursors_issue_in_its_second():
    s, t = "2025-03-01.12:00:07", "2025-03-01.12:00:08"
    rows = [("5", s), ("3", s), ("9", s), ("2", t)]
    assert rows_after(rows, s, "3") == [("9", s), ("2", t)]
    assert rows_after(rows, s, "9") == [("2", t)]
    assert rows_after(rows, "", "") == rows
    # The cursor's issue changed again (it left its second): the second is read again.
    assert rows_after(rows, s, "7") == rows
    assert rows_after([("2", t)], s, "3") == [("2", t)]
    # The page ends at or before the cursor's issue: nothing yet (a longer page is read).
    assert rows_after(rows[:2], s, "3") == []
    assert rows_after(rows[:1], s, "3") == []


def test_a_second_is_settled_once_it_ended_settle_seconds_ago_by_the_trackers_clock():
    now = datetime(2025, 3, 1, 12, 0, 10, tzinfo=UTC)
    assert is_settled("2025-03-01.12:00:07", now, 2)
    assert not is_settled("2025-03-01.12:00:08", now, 2)
    assert not is_settled("2025-03-01.12:00:10", now, 1)
    assert not is_settled("not a date", now, 1)


def test_texts_not_yet_there_are_counted_with_their_repeats():
    assert missing_texts(["a", "b"], ["a", "c", "a", "b"]) == ["c", "a"]
    assert missing_texts([], ["a", "a"]) == ["a", "a"]
    assert missing_texts(["a", "a", "b"], ["a"]) == []


def test_what_was_written_wins_over_a_read_back_that_differs_and_its_version_is_stale():
    read = Artifact("issue1", {"title": "t", "status": "chatting"}, '"etag"', "u", datetime.now(UTC))
    assert as_written(read, {"status": "chatting"}) is read
    written = as_written(read, {"status": "resolved"})
    assert written.fields == {"title": "t", "status": "resolved"} and written.version == ""
