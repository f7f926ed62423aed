"""The Jira connector's own behaviour, against the in-process fake of Jira's REST
API (tests/fakes/jira.py), Cloud and Server: ADF, transitions, custom fields by
name, JQL minute precision in the user's time zone, rate limits, stale versions,
authentication. (What every connector must do is in test_connector_conformance.py.)"""

import base64
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from synchronizations.connectors import adf
from synchronizations.connectors.jira import JiraConnector, Scope, jql_minute
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
from tests.fakes.jira import FakeJira
from tests.harness_jira import jira_connector

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["cloud", "server"])
def fake(request):
    jira = FakeJira(request.param).start()
    yield jira
    jira.stop()


@pytest.fixture
def cloud():
    jira = FakeJira("cloud").start()
    yield jira
    jira.stop()


def sent(fake: FakeJira, method: str, fragment: str) -> list:
    return [r for r in fake.seen if r.method == method and fragment in r.path]


# --- ADF -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "One paragraph.",
        "First paragraph.\n\nSecond paragraph.",
        "A line\nand a hard break.\n\nThen a paragraph.",
        "Three blank\n\n\nlines keep their extra line end",
        "\n\nstarts with a blank line, ends with one\n",
        "  indented\ttext\n\n\n\nafter two empty paragraphs",
    ],
)
def test_plain_text_survives_adf_both_ways(text):
    document = adf.from_text(text)
    assert document["type"] == "doc" and document["version"] == 1
    assert all(block["type"] == "paragraph" for block in document["content"])
    assert adf.to_text(document) == text


def test_paragraphs_and_hard_breaks_are_adf_paragraphs_and_hardbreaks():
    document = adf.from_text("a\nb\n\nc")
    assert document["content"] == [
        {
            "type": "paragraph",
            "content": [{"type": "text", "text": "a"}, {"type": "hardBreak"}, {"type": "text", "text": "b"}],
        },
        {"type": "paragraph", "content": [{"type": "text", "text": "c"}]},
    ]


def test_an_empty_description_is_none_and_reads_as_empty_text():
    assert adf.from_text("") is None and adf.from_text(None) is None
    assert adf.to_text(None) == ""
    assert adf.to_text({"type": "doc", "version": 1, "content": []}) == ""
    assert adf.from_text("a\r\nb") == adf.from_text("a\nb")


def test_lists_headings_and_code_blocks_read_as_their_text():
    text = lambda value: {"type": "text", "text": value, "marks": [{"type": "strong"}]}  # noqa: E731
    paragraph = lambda *nodes: {"type": "paragraph", "content": list(nodes)}  # noqa: E731
    document = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [text("Steps")]},
            {
                "type": "bulletList",
                "content": [
                    {"type": "listItem", "content": [paragraph(text("first"))]},
                    {
                        "type": "listItem",
                        "content": [
                            paragraph(text("second")),
                            {
                                "type": "orderedList",
                                "content": [{"type": "listItem", "content": [paragraph(text("nested"))]}],
                            },
                        ],
                    },
                ],
            },
            {"type": "codeBlock", "attrs": {"language": "python"}, "content": [text("print(1)\nprint(2)")]},
            {"type": "rule"},
            paragraph(
                text("Ask "),
                {"type": "mention", "attrs": {"id": "5b10", "text": "@Jane"}},
                {"type": "text", "text": " about "},
                {"type": "inlineCard", "attrs": {"url": "https://example.com/x"}},
            ),
        ],
    }
    assert (
        adf.to_text(document)
        == "Steps\n\nfirst\nsecond\nnested\n\nprint(1)\nprint(2)\n\nAsk @Jane about https://example.com/x"
    )


def test_cloud_sends_the_description_as_adf_and_server_as_wiki_text(fake):
    connector = jira_connector(fake)
    text = "First paragraph.\n\nA line\nand a hard break."
    created = connector.create("WEB", {"title": "Described", "description": text})
    stored = fake.issues[created.key]["fields"]["description"]
    if fake.flavour == "cloud":
        assert [block["type"] for block in stored["content"]] == ["paragraph", "paragraph"]
        assert {"type": "hardBreak"} in stored["content"][1]["content"]
    else:
        assert stored == text
    assert connector.get(created.key).fields["description"] == text
    emptied = connector.update(created.key, {"description": ""}, created.version)
    assert emptied.fields["description"] == "" and fake.issues[created.key]["fields"]["description"] is None


# --- status by transitions -------------------------------------------------------------


def test_a_status_is_reached_by_posting_the_transition_to_it(fake):
    connector = jira_connector(fake)
    created = connector.create("WEB", {"title": "Moving"})
    updated = connector.update(created.key, {"status": "in progress"}, created.version)
    assert updated.fields["status"] == "In Progress"
    posts = sent(fake, "POST", f"/issue/{created.key}/transitions")
    assert [post.json for post in posts] == [{"transition": {"id": "11"}}]
    assert not any("status" in (r.json or {}).get("fields", {}) for r in sent(fake, "PUT", created.key))


def test_a_status_no_transition_reaches_is_refused_naming_it_and_the_reachable_ones(fake):
    connector = jira_connector(fake)
    created = connector.create("WEB", {"title": "Stuck"})
    with pytest.raises(FieldRefused, match=r"'Done'.*reachable: In Progress") as refused:
        connector.update(created.key, {"status": "Done"}, created.version)
    assert isinstance(refused.value, PermanentError) and refused.value.field == "status"
    assert connector.get(created.key).fields["status"] == "To Do"


def test_create_with_a_status_transitions_after_creating_and_says_when_it_could_not(fake):
    """The issue exists once Jira's create answered: a status no transition reaches
    is a PartlyCreated carrying the issue (the engine links it, never creating it
    again) and the refusal naming the status."""
    connector = jira_connector(fake)
    moved = connector.create("WEB", {"title": "Started", "status": "In Progress"})
    assert moved.fields["status"] == "In Progress"
    with pytest.raises(PartlyCreated) as partly:
        connector.create("WEB", {"title": "Too far", "status": "Done"})  # no transition from To Do
    stuck = partly.value.artifact
    assert stuck.key in fake.issues and stuck.fields["status"] == "To Do"
    assert partly.value.fields == ["status"]
    assert isinstance(partly.value.error, FieldRefused) and "reachable: In Progress" in partly.value.message


def test_an_update_to_a_status_no_transition_reaches_writes_no_other_field_either(fake):
    connector = jira_connector(fake)
    created = connector.create("WEB", {"title": "Before"})
    with pytest.raises(FieldRefused, match="'Done'"):
        connector.update(created.key, {"title": "After", "status": "Done"}, created.version)
    assert connector.get(created.key).fields["title"] == "Before"
    assert not sent(fake, "PUT", created.key)


# --- custom fields by name -------------------------------------------------------------


def test_custom_fields_are_written_and_read_by_name(fake):
    connector = jira_connector(fake)
    created = connector.create("WEB", {"title": "Custom", "Customer": "ACME", "Severity": "Major"})
    assert fake.issues[created.key]["fields"]["customfield_10051"] == {"value": "Major"}
    assert fake.issues[created.key]["fields"]["customfield_10050"] == "ACME"
    read = connector.get(created.key)
    assert (read.fields["Customer"], read.fields["Severity"], read.fields["Notes"]) == ("ACME", "Major", "")
    notes = connector.update(created.key, {"Notes": "one\n\ntwo"}, read.version)
    assert notes.fields["Notes"] == "one\n\ntwo"
    assert len(sent(fake, "GET", "/field")) == 1  # resolved once per connector


def test_a_value_jira_refuses_in_a_custom_field_is_refused_naming_the_field_by_name(fake):
    connector = jira_connector(fake)
    with pytest.raises(FieldRefused, match=r"'Severity'.*Option value 'Huge' is not valid") as refused:
        connector.create("WEB", {"title": "Bad option", "Severity": "Huge"})
    assert refused.value.field == "Severity"


def test_a_field_jira_does_not_have_is_refused_before_anything_is_written(fake):
    connector = jira_connector(fake)
    with pytest.raises(FieldRefused, match="'Nonexistent'") as refused:
        connector.create("WEB", {"title": "x", "Nonexistent": "y"})
    assert refused.value.field == "Nonexistent"
    assert not sent(fake, "POST", "/issue")
    problems = connector.check("WEB", ["title", "Customer", "status", "Nonexistent"])
    assert len(problems) == 1 and "'Nonexistent'" in problems[0]


# --- change detection ------------------------------------------------------------------


def at(minute_second: str) -> datetime:
    return datetime.fromisoformat(f"2026-03-02T10:{minute_second}+00:00")


def test_two_edits_within_one_minute_are_both_seen_and_none_twice(fake):
    connector = jira_connector(fake, settings={"overlap_seconds": 5})
    fake.clock = at("00:05")
    first = connector.create("WEB", {"title": "first"})
    fake.clock = at("00:15")
    one = connector.changed_since("WEB", "")
    assert [a.key for a in one.artifacts] == [first.key]
    assert one.cursor == "2026-03-02T10:00:10.000Z"  # Jira's clock less the overlap
    fake.clock = at("00:40")
    second = connector.create("WEB", {"title": "second"})  # the same minute as the first
    fake.clock = at("00:50")
    two = connector.changed_since("WEB", one.cursor)
    assert [a.key for a in two.artifacts] == [second.key]  # the first came back with the minute: dropped
    fake.clock = at("00:59")
    assert connector.changed_since("WEB", two.cursor).artifacts == []
    # JQL has minutes only, written in the API user's zone (Sydney: UTC+11 in March).
    queries = [r.arg("jql") for r in fake.seen if r.path.endswith("/search") or r.path.endswith("/search/jql")]
    assert 'updated >= "2026-03-02 21:00"' in queries[-1]


def test_edits_in_the_overlap_are_returned_again_at_the_same_version(fake):
    connector = jira_connector(fake, settings={"overlap_seconds": 30})
    fake.clock = at("00:05")
    created = connector.create("WEB", {"title": "recent"})
    fake.clock = at("00:10")
    first = connector.changed_since("WEB", "")
    again = connector.changed_since("WEB", first.cursor)
    assert [a.key for a in again.artifacts] == [created.key]
    assert connector.same_version(first.artifacts[0].version, again.artifacts[0].version)


def test_an_issue_edited_twice_is_returned_once_at_its_newest_version(fake):
    connector = jira_connector(fake, settings={"overlap_seconds": 0})
    created = connector.create("WEB", {"title": "a"})
    edited = connector.update(created.key, {"title": "b"}, created.version)
    changes = connector.changed_since("WEB", "")
    assert [(a.key, a.version) for a in changes.artifacts] == [(created.key, edited.version)]


def test_the_minute_is_written_in_the_users_zone_earlier_when_a_dst_change_makes_it_ambiguous():
    berlin = ZoneInfo("Europe/Berlin")
    assert jql_minute(datetime(2026, 7, 1, 10, 0, 42, tzinfo=UTC), berlin) == "2026-07-01 12:00"
    # 00:30 UTC on 25 October 2026 is 02:30 CEST; 02:30 also exists in CET (01:30 UTC, later).
    moment = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert jql_minute(moment, berlin) == "2026-10-25 01:30"
    # Unknown zone: 12 hours back, before the cursor whatever the user's zone.
    assert jql_minute(moment, None) == "2026-10-24 12:30"


def test_a_scope_with_a_jql_condition_sees_only_its_issues(fake):
    connector = jira_connector(fake)
    tagged = connector.create("WEB", {"title": "tagged", "labels": ["synced"]})
    connector.create("WEB", {"title": "plain"})
    seen = [a.key for a in connector.changed_since("WEB: labels = synced", "").artifacts]
    assert seen == [tagged.key]


def test_a_scope_jira_cannot_search_is_a_permanent_error_naming_it(fake):
    connector = jira_connector(fake)
    with pytest.raises(PermanentError, match=r"Scope 'WEB: nosuchfield = 1'.*does not exist"):
        connector.changed_since("WEB: nosuchfield = 1", "")
    assert "nosuchfield" in connector.check("WEB: nosuchfield = 1", [])[0]
    assert "does not exist" in connector.check("NOSUCH", [])[0]
    with pytest.raises(PermanentError, match="not a Jira scope"):
        connector.changed_since("web project!", "")


@pytest.mark.parametrize(
    "condition",
    ["labels = x) OR (project = WEB", "labels = x)", "(labels = x", 'summary ~ "open quote'],
)
def test_a_condition_that_could_reach_outside_its_project_is_refused(condition):
    """The condition is put in parentheses after the project: one that closes them
    (or leaves a quote open) could reach issues of other projects and mappings."""
    with pytest.raises(PermanentError, match="unbalanced parentheses or quotes"):
        Scope.parse(f"OPS: {condition}")
    assert "unbalanced parentheses or quotes" in JiraConnector.scope_problem(f"OPS: {condition}")
    assert Scope.parse('OPS: summary ~ "a (b" AND (labels = x)').jql == 'summary ~ "a (b" AND (labels = x)'


def test_a_mapping_with_a_scope_jira_cannot_read_or_repository_settings_it_refuses_is_not_saved(db):
    """Said when saved (the admin's form shows it on the field), not on every sync."""
    from django.core.exceptions import ValidationError

    from synchronizations.models import Mapping

    jira = Repository.objects.create(name="Jira", kind="jira", base_url="https://jira.example.com")
    sandbox = Repository.objects.create(name="Sandbox", kind="sandbox")
    for scope in ("12-OPS", "OPS: labels = x) OR (project = WEB", "OPS: labels = x ORDER BY key"):
        mapping = Mapping(name="M", left=sandbox, left_scope="SB", right=jira, right_scope=scope)
        with pytest.raises(ValidationError) as refused:
            mapping.clean()
        assert list(refused.value.message_dict) == ["right_scope"], scope
    for settings in ({"deployment": "Server"}, {"page_size": "100"}, {"overlap_seconds": 99999}):
        jira.settings = settings
        with pytest.raises(ValidationError) as refused:
            jira.clean()
        assert list(refused.value.message_dict) == ["settings"], settings


def test_an_issue_created_outside_the_scope_condition_is_linked_and_said(fake):
    """Change detection would never see it again: a PartlyCreated whose error says
    so, rather than an issue silently out of sync."""
    connector = jira_connector(fake)
    with pytest.raises(PartlyCreated, match="does not match the scope's condition") as partly:
        connector.create("WEB: labels = synced", {"title": "Unlabelled"})
    assert partly.value.artifact.key in fake.issues and partly.value.fields == []
    assert connector.create("WEB: labels = synced", {"title": "Labelled", "labels": ["synced"]}).fields["labels"] == [
        "synced"
    ]


def test_scopes_of_one_project_overlap_whatever_their_conditions():
    assert JiraConnector.scopes_overlap("WEB", "web: labels = a")
    assert JiraConnector.scopes_overlap("WEB: labels = a", "WEB: labels = b")
    assert not JiraConnector.scopes_overlap("WEB", "OPS")
    assert not JiraConnector.scopes_overlap("WEB: labels = a", "OPS: labels = a")
    assert Scope.parse(" web :  type = Bug ") == Scope("WEB", "type = Bug")
    with pytest.raises(PermanentError, match="ORDER BY"):
        Scope.parse("WEB: labels = a ORDER BY key")


def test_cloud_pages_with_next_page_token_and_server_with_start_at(fake):
    connector = jira_connector(fake, settings={"page_size": 2})
    fake.clock = at("00:05")
    keys = [connector.create("WEB", {"title": f"n{i}"}).key for i in range(5)]
    assert [a.key for a in connector.changed_since("WEB", "").artifacts] == keys
    searches = [r for r in fake.seen if "/search" in r.path]
    if fake.flavour == "cloud":
        assert all(r.path == "/rest/api/3/search/jql" for r in searches)
        assert any(r.arg("nextPageToken") for r in searches)
    else:
        assert all(r.path == "/rest/api/2/search" for r in searches)
        assert {r.arg("startAt") for r in searches} >= {"0", "2", "4"}


def test_an_issue_edited_while_the_pages_are_read_hides_no_other(fake):
    """The edited issue moves to the end of the list; were the pages followed by
    position, the issue after the first page would slip back into it, unread."""
    connector = jira_connector(fake, settings={"page_size": 2, "overlap_seconds": 0})
    keys = []
    for minute in range(6):
        fake.clock = at(f"{minute:02d}:30")
        keys.append(connector.create("WEB", {"title": f"m{minute}"}).key)
    fake.clock = at("10:00")
    fake.after_search.append(lambda: fake.edit(keys[0], summary="edited while read"))
    seen = [a.key for a in connector.changed_since("WEB", "").artifacts]
    assert sorted(seen) == sorted(keys) and seen[-1] == keys[0]


# --- versions, many at once, users ---------------------------------------------------------


def test_an_update_from_a_stale_version_is_a_conflict_and_writes_nothing(fake):
    connector = jira_connector(fake)
    created = connector.create("WEB", {"title": "Ours"})
    fake.edit(created.key, summary="Edited in Jira")
    puts = len(sent(fake, "PUT", created.key))
    with pytest.raises(ConflictError, match="changed in"):
        connector.update(created.key, {"title": "Overwrite?"}, created.version)
    assert len(sent(fake, "PUT", created.key)) == puts
    assert connector.get(created.key).fields["title"] == "Edited in Jira"


def test_get_many_reads_with_one_search_and_reports_the_missing_key_deleted(fake):
    connector = jira_connector(fake)
    keys = [connector.create("WEB", {"title": f"m{i}"}).key for i in range(3)]
    before = len(fake.seen)
    found = connector.get_many(keys)
    assert [found[key].key for key in keys] == keys
    searches = [r for r in fake.seen[before:] if "/search" in r.path]
    assert len(fake.seen) - before == 1 and f"key in ({', '.join(keys)})" in searches[0].arg("jql")
    # Jira refuses a search naming a key that does not exist: each is read alone.
    mixed = connector.get_many([keys[0], "WEB-999", "not a key"])
    assert mixed[keys[0]].key == keys[0]
    assert isinstance(mixed["WEB-999"], ArtifactDeleted) and isinstance(mixed["not a key"], ArtifactDeleted)


def test_cloud_assigns_by_account_id_or_by_e_mail_address(cloud):
    connector = jira_connector(cloud)
    jane, joe = cloud.users
    created = connector.create("WEB", {"title": "Assigned", "assignee": "JANE@example.com"})
    assert created.fields["assignee"] == jane["accountId"]
    # Joe hides his e-mail address: Jira's search still finds him, alone.
    moved = connector.update(created.key, {"assignee": "joe@example.com"}, created.version)
    assert moved.fields["assignee"] == joe["accountId"]
    by_id = connector.update(created.key, {"assignee": jane["accountId"]}, moved.version)
    assert by_id.fields["assignee"] == jane["accountId"]
    with pytest.raises(FieldRefused, match=r"'assignee'.*no user"):
        connector.update(created.key, {"assignee": "nobody@example.com"}, by_id.version)
    with pytest.raises(FieldRefused, match="'assignee'"):
        connector.update(created.key, {"assignee": "no-such-account"}, by_id.version)
    unassigned = connector.update(created.key, {"assignee": ""}, by_id.version)
    assert unassigned.fields["assignee"] == ""


def test_server_assigns_by_username():
    fake = FakeJira("server").start()
    try:
        connector = jira_connector(fake)
        created = connector.create("WEB", {"title": "Assigned", "assignee": "jdoe"})
        assert created.fields["assignee"] == "jdoe"
        assert fake.issues[created.key]["fields"]["assignee"]["name"] == "jdoe"
        with pytest.raises(FieldRefused, match=r"'assignee'.*User 'ghost' does not exist"):
            connector.update(created.key, {"assignee": "ghost"}, created.version)
    finally:
        fake.stop()


def test_labels_are_a_sorted_list_and_a_label_with_a_space_is_refused(fake):
    connector = jira_connector(fake)
    created = connector.create("WEB", {"title": "Labelled", "labels": ["zeta", "alpha", "zeta"]})
    assert created.fields["labels"] == ["alpha", "zeta"]
    with pytest.raises(FieldRefused, match="'labels'"):
        connector.update(created.key, {"labels": ["two words"]}, created.version)


# --- rate limits, authentication, settings ---------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_a_rate_limit_or_outage_with_retry_after_is_transient_with_retry_after(fake, status):
    connector = jira_connector(fake)
    fake.fail_next(Response(status, {"errorMessages": ["Rate limit exceeded."]}, headers={"Retry-After": "30"}))
    with pytest.raises(TransientError) as raised:
        connector.get("WEB-1")
    assert raised.value.retry_after == 30.0
    assert not isinstance(raised.value, ConflictError)


def test_cloud_authenticates_with_the_e_mail_and_api_token_server_with_a_bearer_token(fake):
    connector = jira_connector(fake)
    connector.ping()
    request = fake.seen[-1]
    if fake.flavour == "cloud":
        expected = base64.b64encode(f"{fake.email}:{fake.token}".encode()).decode()
        assert request.headers["authorization"] == f"Basic {expected}"
        assert request.path == "/rest/api/3/myself"
    else:
        assert request.headers["authorization"] == f"Bearer {fake.token}"
        assert request.path == "/rest/api/2/myself"
    with pytest.raises(RepositoryError, match="refused our credentials"):
        jira_connector(fake, secret="wrong").ping()


def test_the_deployment_is_taken_from_the_url_unless_set(fake):
    def deployment(url: str, **settings) -> str:
        repository = Repository(name="d", kind="jira", base_url=url, settings=settings)
        return JiraConnector(repository).deployment

    assert deployment("https://acme.atlassian.net") == "cloud"
    assert deployment("https://jira.acme.com/jira") == "server"
    assert deployment("https://jira.acme.com", deployment="cloud") == "cloud"
    with pytest.raises(PermanentError, match='deployment must be "cloud" or "server"'):
        deployment("https://jira.acme.com", deployment="datacenter")
    with pytest.raises(PermanentError, match="overlap_seconds"):
        deployment("https://jira.acme.com", overlap_seconds=-1)


def test_the_cursor_moves_only_over_settled_time():
    fake = FakeJira("cloud").start()
    try:
        connector = jira_connector(fake, settings={"overlap_seconds": 60})
        fake.clock = at("30:00")
        connector.create("WEB", {"title": "x"})
        fake.clock = at("30:00") + timedelta(seconds=10)
        assert connector.changed_since("WEB", "").cursor == "2026-03-02T10:29:10.000Z"
    finally:
        fake.stop()


# --- end to end through the engine -----------------------------------------------------


def test_an_issue_crosses_from_cloud_to_server_and_back_through_the_engine_without_echo():
    """A mapping Jira Cloud WEB (left) ↔ Jira Server WEB (right), run as a worker
    runs it: the description goes from ADF to wiki text and back, the status by
    transitions on both sides, a custom field by name; a quiet round writes nothing."""
    from synchronizations.models import Mapping, Synchronization, SyncStatus
    from tests.test_fakes_end_to_end import run_round

    cloud, server = FakeJira("cloud").start(), FakeJira("server").start()
    try:
        left, right = jira_connector(cloud, "Jira Cloud"), jira_connector(server, "Jira Server")
        mapping = Mapping.objects.create(
            name="Cloud ↔ Server", left=left.repository, left_scope="WEB", right=right.repository,
            right_scope="WEB: labels = synced", field_map=[
                {"left": "title", "right": "title", "direction": "both"},
                {"left": "description", "right": "description", "direction": "both"},
                {"left": "status", "right": "status", "direction": "both"},
                {"left": "Severity", "right": "Severity", "direction": "both"},
                {"left": "labels", "right": "labels", "direction": "left_to_right"},
            ],
        )  # fmt: skip
        made = left.create("WEB", {"title": "Checkout fails", "description": "Steps:\n\npay\nthen wait"})
        left.update(made.key, {"status": "In Progress", "Severity": "Major", "labels": ["synced"]}, made.version)
        run_round(mapping)
        [sync] = Synchronization.objects.filter(mapping=mapping)
        assert sync.status == SyncStatus.OK, sync.error_message
        there = right.get(sync.right_key).fields
        assert (there["title"], there["status"], there["Severity"]) == ("Checkout fails", "In Progress", "Major")
        assert server.issues[sync.right_key]["fields"]["description"] == "Steps:\n\npay\nthen wait"

        # Done and re-described on Server: both reach Cloud (a transition, ADF).
        read = right.get(sync.right_key)
        right.update(sync.right_key, {"status": "Done", "description": "Fixed.\n\nIn 2.1"}, read.version)
        run_round(mapping)
        back = left.get(made.key).fields
        assert (back["status"], back["description"]) == ("Done", "Fixed.\n\nIn 2.1")
        assert [b["type"] for b in cloud.issues[made.key]["fields"]["description"]["content"]] == ["paragraph"] * 2

        writes = [r for fake in (cloud, server) for r in fake.seen if r.method in ("POST", "PUT")]
        run_round(mapping)
        assert writes == [r for fake in (cloud, server) for r in fake.seen if r.method in ("POST", "PUT")]
        assert Synchronization.objects.get(mapping=mapping).status == SyncStatus.OK
    finally:
        cloud.stop()
        server.stop()


# --- a create that did not take every field, through the engine -------------------------


@pytest.fixture
def to_jira(db):
    """A mapping sandbox SB (left) → Jira Cloud WEB (right) whose status map can ask
    for a status no transition reaches from a new issue's To Do."""
    from synchronizations.models import Mapping

    jira = FakeJira("cloud").start()
    left = Repository.objects.create(name="Sandbox", kind="sandbox", settings={"key_prefix": "SB"})
    right = jira_connector(jira, "Jira").repository
    mapping = Mapping.objects.create(
        name="Sandbox → Jira", left=left, left_scope="SB", right=right, right_scope="WEB", field_map=[
            {"left": "title", "right": "title", "direction": "both"},
            {"left": "status", "right": "status", "direction": "both",
             "values": {"Open": "To Do", "Working": "In Progress", "Closed": "Done"}},
        ],
    )  # fmt: skip
    yield mapping, jira
    jira.stop()


def test_a_new_issue_whose_status_no_transition_reaches_is_linked_and_in_the_error_queue(to_jira):
    """Never a silent OK with Jira in another status; never a second issue: the sync
    says why, and once the status is reachable (here: the left moves to one that is)
    the next processing writes it as an update."""
    from synchronizations.connectors import connector_for
    from synchronizations.models import Synchronization, SyncStatus
    from tests.test_fakes_end_to_end import run_round

    mapping, jira = to_jira
    sandbox = connector_for(mapping.left)
    made = sandbox.create("SB", {"title": "Too far", "status": "Closed"})
    run_round(mapping)
    [sync] = Synchronization.objects.filter(mapping=mapping)
    assert sync.status == SyncStatus.ERROR
    assert "no transition takes" in sync.error_message and "'Done'" in sync.error_message
    assert sync.right_key in jira.issues and len(jira.issues) == 1
    assert jira.issues[sync.right_key]["fields"]["status"] == "To Do"

    run_round(mapping)  # nothing changed: it stays in the error queue, and nothing is created again
    assert Synchronization.objects.get(pk=sync.pk).status == SyncStatus.ERROR and len(jira.issues) == 1

    sandbox.update(made.key, {"status": "Working"}, sandbox.get(made.key).version)
    run_round(mapping)
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert jira.issues[sync.right_key]["fields"]["status"] == "In Progress" and len(jira.issues) == 1
    assert sandbox.get(made.key).fields["status"] == "Working"  # Jira's To Do never came back


def test_a_rate_limit_on_the_transition_after_a_create_tries_the_status_again_not_the_create(to_jira):
    from synchronizations.connectors import connector_for
    from synchronizations.engine import process
    from synchronizations.models import Synchronization, SyncStatus
    from tests.test_fakes_end_to_end import run_round

    mapping, jira = to_jira
    sandbox = connector_for(mapping.left)
    made = sandbox.create("SB", {"title": "Started", "status": "Working"})
    calls = {"n": 0}
    original = jira.dispatch

    def limited(request):
        if request.method == "POST" and request.path.endswith("/transitions") and not calls["n"]:
            calls["n"] += 1
            return Response(429, {"errorMessages": ["Rate limit exceeded."]}, {"Retry-After": "1"})
        return original(request)

    jira.dispatch = limited
    run_round(mapping)
    [sync] = Synchronization.objects.filter(mapping=mapping)
    assert sync.status == SyncStatus.PENDING and sync.right_key in jira.issues
    assert jira.issues[sync.right_key]["fields"]["status"] == "To Do"
    Synchronization.objects.filter(pk=sync.pk).make_due(datetime.now(UTC))  # its backoff over
    process.process_batch([sync.pk], "again")
    sync.refresh_from_db()
    assert sync.status == SyncStatus.OK, sync.error_message
    assert jira.issues[sync.right_key]["fields"]["status"] == "In Progress" and len(jira.issues) == 1
    assert sandbox.get(made.key).fields["status"] == "Working"
