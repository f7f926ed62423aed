"""What every connector must do, run against each connector alike: the sandbox, and
the live Redmine and Roundup trackers (tests/conformance_harnesses.py says how each
is set up; a live tracker that is not installed skips, saying why)."""

import pytest

from synchronizations.connectors import REGISTRY, connector_for
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    RepositoryError,
    TransientError,
)
from synchronizations.models import Repository
from tests.conformance_harnesses import HARNESSES, Harness

pytestmark = pytest.mark.django_db


@pytest.fixture(params=sorted(HARNESSES))
def harness(request) -> Harness:
    return request.getfixturevalue(HARNESSES[request.param])


def test_every_registered_kind_is_under_conformance_test():
    assert set(REGISTRY) <= set(HARNESSES)


def test_create_then_get_returns_the_fields_version_and_url(harness):
    connector = harness.connector
    created = connector.create(harness.scope, harness.new_fields("Hello"))
    read = connector.get(created.key)
    assert read.fields[harness.title] == "Hello"
    for name, value in harness.new_fields("Hello").items():
        assert read.fields[name] == value, name
    assert read.version == created.version
    assert read.url and read.url == connector.url(created.key)


def test_update_keeps_other_fields_and_changes_the_version(harness):
    connector = harness.connector
    created = connector.create(harness.scope, harness.new_fields("Hello"))
    updated = connector.update(created.key, harness.edit, created.version)
    assert updated.fields[harness.title] == "Hello"
    for name, value in harness.edit.items():
        assert updated.fields[name] == value, name
    assert updated.version != created.version
    assert connector.get(created.key).fields == updated.fields


def test_update_with_a_stale_version_is_a_conflict_and_overwrites_nothing(harness):
    connector = harness.connector
    created = connector.create(harness.scope, harness.new_fields("Hello"))
    connector.update(created.key, {harness.title: "Edited elsewhere"}, created.version)
    with pytest.raises(ConflictError):
        connector.update(created.key, {harness.title: "Ours"}, created.version)
    assert connector.get(created.key).fields[harness.title] == "Edited elsewhere"


def test_changed_since_returns_changes_after_the_cursor(harness):
    connector = harness.connector
    start = connector.changed_since(harness.scope, "")
    first = connector.create(harness.scope, harness.new_fields("one"))
    assert first.key in [a.key for a in connector.changed_since(harness.scope, "").artifacts]
    cursor = connector.changed_since(harness.scope, start.cursor).cursor
    second = connector.create(harness.scope, harness.new_fields("two"))
    edited = connector.update(first.key, harness.edit, first.version)
    later = [a.key for a in harness.all_changes(harness.scope, cursor)]
    assert second.key in later and edited.key in later


def test_changed_since_reads_past_a_page(harness):
    """More changes than one page of the tracker's list: none is missed."""
    connector = harness.connector
    keys = {connector.create(harness.scope, harness.new_fields(f"n{i}")).key for i in range(harness.page_size + 2)}
    seen = {a.key for a in harness.all_changes(harness.scope, "")}
    assert keys <= seen


def test_scope_limits_what_is_seen_and_where_artifacts_are_created(harness):
    connector = harness.connector
    inside = connector.create(harness.scope, harness.new_fields("in"))
    outside = connector.create(harness.other_scope, harness.new_fields("out"))
    seen = [a.key for a in harness.all_changes(harness.scope, "")]
    assert inside.key in seen and outside.key not in seen


def test_a_missing_artifact_is_reported_deleted(harness):
    with pytest.raises(ArtifactDeleted, match="was deleted in"):
        harness.connector.get(harness.missing_key)


def test_an_unreachable_tracker_raises_transient_errors(harness):
    connector = harness.unreachable()
    for call in (
        lambda: connector.get(harness.missing_key),
        lambda: connector.changed_since(harness.scope, ""),
        lambda: connector.create(harness.scope, harness.new_fields("t")),
        connector.ping,
    ):
        with pytest.raises(TransientError):
            call()


def test_refused_credentials_are_a_repository_error(harness):
    connector = harness.refused()
    for call in (lambda: connector.changed_since(harness.scope, ""), connector.ping):
        with pytest.raises(RepositoryError):
            call()


def test_a_refused_value_is_a_permanent_error_naming_the_field(harness):
    with pytest.raises(FieldRefused, match=f"'{harness.invalid_field}'"):
        harness.connector.create(harness.scope, {**harness.new_fields("t"), **harness.invalid})


def test_check_finds_a_missing_scope_and_a_missing_field(harness):
    connector = harness.connector
    assert connector.check(harness.scope, [harness.title, *harness.edit]) == []
    if harness.checks_scopes:
        assert any(
            "scope" in p.lower() or harness.missing_scope in p for p in connector.check(harness.missing_scope, [])
        )
        problems = connector.check(harness.scope, [harness.title, "no_such_field_xyz"])
        assert any("no_such_field_xyz" in p for p in problems)


def test_an_unknown_kind_has_no_connector(db):
    repository = Repository.objects.create(name="J", kind="youtrack")
    with pytest.raises(PermanentError, match="kind 'youtrack', which has no connector yet"):
        connector_for(repository)
