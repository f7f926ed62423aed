"""What every connector must do, run against each connector (the sandbox first;
later connectors add a factory to CONNECTORS and must pass the same tests)."""

import pytest

from synchronizations.connectors import REGISTRY, connector_for
from synchronizations.engine.errors import ConflictError, PermanentError, TransientError
from synchronizations.models import Repository

pytestmark = pytest.mark.django_db


def sandbox(**settings):
    repository = Repository.objects.create(name="Conformance", kind="sandbox", settings={"key_prefix": "C", **settings})
    return repository, connector_for(repository)


CONNECTORS = {"sandbox": sandbox}


@pytest.fixture(params=sorted(CONNECTORS))
def make(request):
    return CONNECTORS[request.param]


def test_every_registered_kind_is_under_conformance_test():
    assert set(REGISTRY) <= set(CONNECTORS)


def test_create_then_get_returns_the_fields_version_and_url(make):
    _, connector = make()
    created = connector.create("", {"title": "Hello", "status": "Open"})
    read = connector.get(created.key)
    assert read.fields["title"] == "Hello"
    assert read.version == created.version
    assert read.url and read.url == connector.url(created.key)


def test_update_keeps_other_fields_and_changes_the_version(make):
    _, connector = make()
    created = connector.create("", {"title": "Hello", "status": "Open"})
    updated = connector.update(created.key, {"status": "Done"}, created.version)
    assert updated.fields == {"title": "Hello", "status": "Done"}
    assert updated.version != created.version


def test_update_with_a_stale_version_is_a_conflict_and_overwrites_nothing(make):
    _, connector = make()
    created = connector.create("", {"title": "Hello"})
    connector.update(created.key, {"title": "Edited elsewhere"}, created.version)
    with pytest.raises(ConflictError):
        connector.update(created.key, {"title": "Ours"}, created.version)
    assert connector.get(created.key).fields["title"] == "Edited elsewhere"


def test_changed_since_returns_changes_after_the_cursor(make):
    _, connector = make()
    first = connector.create("", {"title": "one"})
    changes = connector.changed_since("", "")
    assert [a.key for a in changes.artifacts] == [first.key]
    second = connector.create("", {"title": "two"})
    later = connector.changed_since("", changes.cursor)
    assert second.key in [a.key for a in later.artifacts]


def test_changed_since_with_an_empty_repository_keeps_the_cursor(make):
    _, connector = make()
    assert connector.changed_since("", "").artifacts == []


def test_scope_limits_what_is_seen_and_where_artifacts_are_created(make):
    _, connector = make()
    inside = connector.create("WEB", {"title": "in"})
    connector.create("OPS", {"title": "out"})
    assert inside.key.startswith("WEB-")
    assert [a.key for a in connector.changed_since("WEB", "").artifacts] == [inside.key]


def test_a_missing_artifact_is_a_permanent_error(make):
    _, connector = make()
    with pytest.raises(PermanentError, match="does not exist"):
        connector.get("C-404")


def test_an_unreachable_repository_raises_transient_errors(make):
    _, connector = make(offline=True)
    for call in (
        lambda: connector.get("C-1"),
        lambda: connector.changed_since("", ""),
        lambda: connector.create("", {}),
    ):
        with pytest.raises(TransientError, match="offline"):
            call()


def test_validation_failures_are_permanent_errors_naming_the_field(make):
    _, connector = make(required=["title"], allowed={"status": ["Open", "Done"]})
    with pytest.raises(PermanentError, match="field 'title' is required"):
        connector.create("", {"status": "Open"})
    with pytest.raises(PermanentError, match="field 'status' does not accept 'Blocked'"):
        connector.create("", {"title": "t", "status": "Blocked"})


def test_an_unknown_kind_has_no_connector(db):
    repository = Repository.objects.create(name="J", kind="jira")
    with pytest.raises(PermanentError, match="kind 'jira', which has no connector yet"):
        connector_for(repository)
