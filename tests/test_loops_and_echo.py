"""No loops between mappings (issue 14): sides that overlap are refused when a
mapping is saved, and change detection never takes an artifact that already belongs
to a sync as new (whatever the configuration), nor an artifact that may be the echo
of a create still in flight. Against the sandbox and the live Roundup."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.asserts import assertContains

from synchronizations.connectors import Artifact, Connector, connector_for
from synchronizations.connectors.redmine import RedmineConnector
from synchronizations.connectors.roundup import RoundupConnector
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.demo import local_trackers
from synchronizations.engine.detect import Detection, _apply, detect_changes
from synchronizations.engine.fieldmap import LEFT
from synchronizations.models import LogEntry, Mapping, Repository, Synchronization, SyncStatus
from tests.engine_fixtures import FIELD_MAP
from tests.harness_roundup import create_keyword, roundup_connector

pytestmark = pytest.mark.django_db


def sandbox(name: str, prefix: str = "") -> Repository:
    return Repository.objects.create(name=name, kind="sandbox", settings={"key_prefix": prefix} if prefix else {})


def make(name: str, left: Repository, left_scope: str, right: Repository, right_scope: str) -> Mapping:
    """A mapping saved without clean(), as data that predates the rule may be."""
    return Mapping.objects.create(
        name=name, left=left, left_scope=left_scope, right=right, right_scope=right_scope, field_map=FIELD_MAP
    )


def claim(sync: Synchronization) -> None:
    assert Synchronization.objects.filter(pk=sync.pk).claim("job-1", timezone.now())


# --- The connectors' overlap rules ------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [("", "X", True), ("X", "X", True), ("X", "Y", False), ("", "", True)],
)
def test_the_default_rule_is_the_same_scope_or_an_empty_one(a, b, overlap):
    assert Connector.scopes_overlap(a, b) is overlap
    assert RoundupConnector.scopes_overlap(a, b) is overlap  # a keyword or ""


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("", "ZZ", True),
        ("ZZ", "ZZ", True),
        ("ZZ", "ZZZ", False),  # ZZ-1 is not ZZZ-1
        ("ZZ", "ZZ-A", True),  # ZZ covers ZZ-A-1
        ("ZZ-A", "ZZ", True),
        ("ZZ-A", "ZZ-B", False),
    ],
)
def test_a_sandbox_scope_is_a_key_prefix(a, b, overlap):
    assert SandboxConnector.scopes_overlap(a, b) is overlap


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("web", "web", True),
        ("web", "api", False),
        ("web", "web/Bug", True),  # every tracker of web includes its bugs
        ("web/Bug", "web/Feature", False),
        ("web/Bug", "web/bug", True),
        ("web+", "api", True),  # api may be a subproject of web: we cannot tell offline
        ("api", "web+/Bug", True),
        ("web+/Bug", "api/Feature", False),  # different trackers never share an issue
        ("web+/Bug", "api+/Bug", True),
        ("not a scope!", "web", False),  # detects nothing, so it cannot loop
        ("not a scope!", "not a scope!", True),
    ],
)
def test_a_redmine_scope_overlaps_by_project_and_tracker_and_a_plus_scope_conservatively(a, b, overlap):
    assert RedmineConnector.scopes_overlap(a, b) is overlap
    assert RedmineConnector.scopes_overlap(b, a) is overlap


# --- Mapping.clean() ----------------------------------------------------------------------


def test_a_mapping_between_a_scope_and_a_scope_inside_it_of_one_repository_is_refused():
    repository = sandbox("One")
    mapping = Mapping(name="All to ZZ", left=repository, left_scope="", right=repository, right_scope="ZZ")
    with pytest.raises(ValidationError, match="left scope '' and the right scope 'ZZ' of this mapping overlap"):
        mapping.full_clean()


def test_the_exact_reverse_of_a_mapping_is_refused_naming_it_and_its_sides():
    left, right = sandbox("Left"), sandbox("Right")
    make("Forward", left, "A", right, "B")
    reverse = Mapping(name="Backward", left=right, left_scope="B", right=left, right_scope="A")
    with pytest.raises(ValidationError) as refused:
        reverse.full_clean()
    assert refused.value.messages == [
        "The left side (scope 'B') overlaps the right side of mapping 'Forward' (scope 'B') on the same "
        "repository: give each a scope that no other side covers.",
        "The right side (scope 'A') overlaps the left side of mapping 'Forward' (scope 'A') on the same "
        "repository: give each a scope that no other side covers.",
    ]


def test_a_fan_out_of_one_scope_to_two_places_is_refused_too_but_separate_scopes_are_fine():
    source, first, second = sandbox("Source"), sandbox("First"), sandbox("Second")
    make("To first", source, "WEB", first, "")
    with pytest.raises(ValidationError, match="mapping 'To first'"):
        Mapping(name="To second", left=source, left_scope="", right=second, right_scope="").full_clean()
    Mapping(name="To second", left=source, left_scope="API", right=second, right_scope="").full_clean()


def test_a_mapping_does_not_overlap_itself_when_saved_again():
    left, right = sandbox("Left"), sandbox("Right")
    mapping = make("Forward", left, "", right, "")
    mapping.full_clean()


def test_the_admin_shows_why_an_overlapping_mapping_is_refused(client_as, admin_user):
    repository = sandbox("One")
    make("Everything", repository, "", sandbox("Other"), "")
    response = client_as(admin_user).post(
        "/sync/admin/synchronizations/mapping/add/",
        {
            "name": "Into itself",
            "left": repository.pk,
            "left_scope": "ZZ",
            "right": repository.pk,
            "right_scope": "YY",
            "field_map": "[]",
            "conflict_policy": "newest",
            "detection_interval": 60,
            "full_scan_hours": 24,
        },
    )
    assertContains(response, "overlaps the left side of mapping &#x27;Everything&#x27;")
    assert not Mapping.objects.filter(name="Into itself").exists()


def test_the_local_trackers_set_up_makes_one_valid_mapping_whichever_variant_ran_before():
    roundup = {"base_url": "http://127.0.0.1:8081/demo/", "user": {"username": "u", "password": "p"}}
    redmine = {"base_url": "http://127.0.0.1:3001/", "api_key": "k", "scope": "demo"}
    first = local_trackers.connect({"roundup": roundup, "redmine": {"skipped": "not installed"}})
    second = local_trackers.connect({"roundup": roundup, "redmine": redmine})
    assert list(Mapping.objects.values_list("name", flat=True)) == [second.name]
    second.full_clean()
    assert first.name != second.name
    again = local_trackers.connect({"roundup": roundup, "redmine": redmine})
    assert again.pk == second.pk


def test_the_local_trackers_set_up_refuses_to_overlap_a_mapping_that_has_syncs():
    roundup = {"base_url": "http://127.0.0.1:8081/demo/", "user": {"username": "u", "password": "p"}}
    used = local_trackers.connect({"roundup": roundup})
    Synchronization.objects.create(mapping=used, left_key="LOCAL-1")
    with pytest.raises(ValidationError, match=f"mapping '{used.name}'"):
        local_trackers.connect({"roundup": roundup, "redmine": {"base_url": "http://x/", "api_key": "k", "scope": "d"}})


# --- Detection: an artifact linked elsewhere is never new -----------------------------------


@pytest.fixture
def overlapping():
    """Two mappings from one repository's whole scope and its ZZ scope, saved before
    the rule existed: (the "" mapping, the ZZ mapping, the shared repository's connector)."""
    shared, one, two = sandbox("Shared", "ZZ"), sandbox("One", "A"), sandbox("Two", "B")
    everything = make("Everything", shared, "", one, "")
    zz = make("Only ZZ", shared, "ZZ", two, "")
    return everything, zz, connector_for(shared)


def test_an_artifact_another_mapping_holds_is_skipped_counted_and_logged_once(overlapping):
    everything, zz, shared = overlapping
    created = [shared.create("ZZ", {"title": f"Bug {n}"}) for n in range(3)]
    assert detect_changes(everything.pk).created == 3
    detection = detect_changes(zz.pk)
    assert (detection.created, detection.linked_elsewhere) == (0, 3)
    assert "3 linked elsewhere" in str(detection)
    assert Synchronization.objects.filter(mapping=zz).count() == 0
    warning = LogEntry.objects.get(mapping=zz)
    assert warning.level == LogEntry.Level.WARNING
    assert f"such as {created[0].key} (held by mapping 'Everything')" in warning.message


def test_an_artifact_this_mappings_other_side_holds_is_not_new_on_this_side():
    repository = sandbox("One", "P")
    mapping = make("Into itself", repository, "", repository, "ZZ")
    connector_for(repository).create("", {"title": "Bug"})  # P-1
    assert detect_changes(mapping.pk).created == 1
    sync = Synchronization.objects.get()
    # Processing created its counterpart in scope ZZ, which the left side ("") covers.
    counterpart = connector_for(repository).create("ZZ", {"title": "Bug"})
    Synchronization.objects.filter(pk=sync.pk).update(right_key=counterpart.key)
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="")
    detection = detect_changes(mapping.pk)
    assert (detection.created, detection.linked_elsewhere) == (0, 1)
    assert Synchronization.objects.count() == 1


def test_detection_reads_the_syncs_of_a_batch_in_one_query_whatever_its_size(overlapping):
    everything, zz, shared = overlapping

    def queries_for(count: int) -> list[str]:
        made = [shared.create("ZZ", {"title": "Bug"}) for _ in range(count)]
        # Half linked by the other mapping, half known to this one: no new sync either way.
        for index, artifact in enumerate(made):
            Synchronization.objects.create(mapping=everything if index % 2 else zz, left_key=artifact.key)
        edited = [Artifact(a.key, a.fields, "99", a.url, a.updated_at) for a in made]
        with CaptureQueriesContext(connection) as captured:
            assert _apply(zz, LEFT, edited, Detection(), shared)
        return [q["sql"] for q in captured.captured_queries]

    few, many = queries_for(4), queries_for(40)
    reads = [sql for sql in many if sql.startswith("SELECT")]
    assert len(reads) == 1
    assert "synchronizations_synchronization" in reads[0]
    assert len(few) == len(many) <= 6


# --- The echo race: a create in flight ------------------------------------------------------


def test_an_unknown_artifact_while_a_create_into_its_repository_is_in_flight_defers_that_side(mapping, left, right):
    left.create("", {"title": "Crash", "status": "Open"})
    detect_changes(mapping.pk)
    sync = Synchronization.objects.get()
    claim(sync)  # processing, its right key still empty
    echo = right.create("", {"title": "Crash", "state": "New"})  # the tracker's create returned
    mapping.refresh_from_db()
    cursor = mapping.right_cursor
    left.create("", {"title": "Another", "status": "Open"})

    detection = detect_changes(mapping.pk)
    assert (detection.deferred, detection.created) == (1, 1)  # the left side went on: "Another"
    assert "1 side(s) deferred" in str(detection)
    mapping.refresh_from_db()
    assert mapping.right_cursor == cursor
    assert not Synchronization.objects.filter(right_key=echo.key).exists()

    # Processing records the key it created, in its own commit.
    Synchronization.objects.filter(pk=sync.pk).update(right_key=echo.key)
    detection = detect_changes(mapping.pk)
    assert (detection.deferred, detection.created) == (0, 0)
    assert Synchronization.objects.count() == 2
    mapping.refresh_from_db()
    assert mapping.right_cursor != cursor


def test_known_artifacts_alone_are_not_deferred_by_a_create_in_flight(mapping, left, right):
    left.create("", {"title": "Crash", "status": "Open"})
    detect_changes(mapping.pk)
    claim(Synchronization.objects.get())
    left.create("", {"title": "Another", "status": "Open"})
    detect_changes(mapping.pk)  # two syncs now; the first one processing
    detection = detect_changes(mapping.pk)
    assert detection.deferred == 0


@pytest.mark.live
def test_the_echo_of_a_create_in_flight_on_roundup_never_becomes_a_new_sync(roundup_server, unique_name):
    create_keyword(roundup_server, unique_name)
    roundup = roundup_connector(roundup_server, f"Roundup {unique_name}")
    source = sandbox("Source", "S")
    mapping = Mapping.objects.create(
        name="Sandbox to Roundup",
        left=source,
        right=roundup.repository,
        right_scope=unique_name,
        field_map=[{"left": "title", "right": "title", "direction": "both"}],
    )
    mapping.full_clean()
    connector_for(source).create("", {"title": "Echo"})
    detect_changes(mapping.pk)
    cursor = Mapping.objects.get(pk=mapping.pk).right_cursor
    sync = Synchronization.objects.get()
    claim(sync)
    # Processing's create returned; its key is not saved yet.
    issue = roundup.create(unique_name, {"title": "Echo", "status": "unread", "priority": "bug"})
    detection = detect_changes(mapping.pk)
    assert detection.deferred == 1, detection
    assert Synchronization.objects.count() == 1
    assert Mapping.objects.get(pk=mapping.pk).right_cursor == cursor

    Synchronization.objects.filter(pk=sync.pk).update(right_key=issue.key)
    detection = detect_changes(mapping.pk)
    assert (detection.deferred, detection.created) == (0, 0), detection
    assert list(Synchronization.objects.values_list("right_key", flat=True)) == [issue.key]


@pytest.mark.live
def test_a_roundup_issue_two_overlapping_mappings_cover_is_taken_by_one_only(roundup_server, unique_name):
    create_keyword(roundup_server, unique_name)
    roundup = roundup_connector(roundup_server, f"Roundup {unique_name}")
    first = make("By keyword", roundup.repository, unique_name, sandbox("First", "F"), "")
    second = make("Also by keyword", roundup.repository, unique_name, sandbox("Second", "G"), "")
    issue = roundup.create(unique_name, {"title": "Shared", "status": "unread", "priority": "bug"})
    assert detect_changes(first.pk).created == 1
    detection = detect_changes(second.pk)
    assert (detection.created, detection.linked_elsewhere) == (0, 1), detection
    assert list(Synchronization.objects.values_list("mapping__name", "left_key")) == [("By keyword", issue.key)]
    with pytest.raises(ValidationError, match="mapping 'By keyword'"):
        second.full_clean()


def test_the_seeded_demo_mappings_are_valid():
    from django.core.management import call_command

    call_command("seed_demo", "--syncs", "40", stdout=io.StringIO())
    for mapping in Mapping.objects.all():
        mapping.full_clean()
    assert Synchronization.objects.filter(status=SyncStatus.OK).exists()
