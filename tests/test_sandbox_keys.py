"""Sandbox keys are never given twice (issue 14): after the newest artifact of a
prefix is deleted, the next one gets a new number, so that a sync still linked to
the deleted key never finds an unrelated artifact. Every path that makes sandbox
artifacts: the connector, the admin, the demo's traffic and seeding."""

import io

import pytest
from django.core.management import call_command
from django.db.models import Max
from pytest_django.asserts import assertContains

from synchronizations.connectors import connector_for
from synchronizations.demo.traffic import DemoTraffic
from synchronizations.models import Mapping, Repository, SandboxArtifact, SandboxKeyNumber, split_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def repository():
    return Repository.objects.create(name="Sandbox", kind="sandbox", settings={"key_prefix": "ZZ"})


def test_the_connector_never_gives_a_deleted_key_again(repository):
    connector = connector_for(repository)
    made = [connector.create("ZZ", {"title": f"Bug {n}"}) for n in range(3)]
    assert [a.key for a in made] == ["ZZ-1", "ZZ-2", "ZZ-3"]
    SandboxArtifact.objects.filter(key="ZZ-3").delete()
    assert connector.create("ZZ", {"title": "Next"}).key == "ZZ-4"
    assert connector.create("", {"title": "By the key prefix"}).key == "ZZ-5"
    assert connector.create("QA", {"title": "Another prefix"}).key == "QA-1"


def test_the_connector_steps_over_a_key_written_without_taking_its_number(repository):
    connector = connector_for(repository)
    connector.create("ZZ", {"title": "Bug"})
    SandboxArtifact.objects.create(repository=repository, key="ZZ-2", fields={})
    assert connector.create("ZZ", {"title": "Next"}).key == "ZZ-3"


def test_a_key_number_is_counted_per_repository_and_prefix(repository):
    other = Repository.objects.create(name="Other", kind="sandbox")
    assert [SandboxKeyNumber.take(repository.pk, "ZZ") for _ in range(2)] == [1, 2]
    assert SandboxKeyNumber.take(other.pk, "ZZ") == 1
    SandboxKeyNumber.raise_to(repository.pk, "ZZ", 1)  # never down
    assert SandboxKeyNumber.take(repository.pk, "ZZ") == 3


def test_split_key_reads_prefix_and_number():
    assert split_key("WEB-12") == ("WEB", 12)
    assert split_key("A-B-3") == ("A-B", 3)
    assert split_key("WEB") == ("", 0)
    assert split_key("WEB-x") == ("", 0)


def admin_add(client, repository, key):
    return client.post(
        "/sync/admin/synchronizations/sandboxartifact/add/",
        {"repository": repository.pk, "key": key, "fields": '{"title": "By hand"}'},
    )


def test_the_admin_adds_an_artifact_with_the_next_number_never_a_deleted_one(client_as, admin_user, repository):
    connector = connector_for(repository)
    for n in range(3):
        connector.create("ZZ", {"title": f"Bug {n}"})
    SandboxArtifact.objects.filter(key="ZZ-3").delete()
    client = client_as(admin_user)
    assert admin_add(client, repository, "ZZ").status_code == 302
    assert SandboxArtifact.objects.filter(key="ZZ-4", fields={"title": "By hand"}).exists()

    response = admin_add(client, repository, "ZZ-3")
    assertContains(response, "ZZ-3 was handed out before")
    assert not SandboxArtifact.objects.filter(key="ZZ-3").exists()

    assert admin_add(client, repository, "ZZ-10").status_code == 302  # a number never handed out
    assert connector.create("ZZ", {"title": "After"}).key == "ZZ-11"


def test_the_admin_does_not_change_an_artifacts_key(client_as, admin_user, repository):
    artifact = connector_for(repository).create("ZZ", {"title": "Bug"})
    row = SandboxArtifact.objects.get(key=artifact.key)
    page = client_as(admin_user).get(f"/sync/admin/synchronizations/sandboxartifact/{row.pk}/change/")
    assert page.status_code == 200
    assert b'name="key"' not in page.content


def test_the_demo_traffic_never_gives_a_deleted_key_again():
    call_command("seed_demo", "--syncs", "40", stdout=io.StringIO())
    mapping = Mapping.objects.filter(enabled=True).first()
    traffic = DemoTraffic(seed=1)
    traffic.create(mapping)
    newest = SandboxArtifact.objects.filter(repository=mapping.left).order_by("-id").first()
    newest.delete()
    traffic.create(mapping)
    again = SandboxArtifact.objects.filter(repository=mapping.left).order_by("-id").first()
    assert split_key(again.key)[1] == split_key(newest.key)[1] + 1


def test_seeding_counts_every_seeded_key_as_handed_out():
    call_command("seed_demo", "--syncs", "40", stdout=io.StringIO())
    for repository in Repository.objects.filter(kind="sandbox"):
        keys = SandboxArtifact.objects.filter(repository=repository).values_list("key", flat=True)
        highest: dict[str, int] = {}
        for key in keys:
            prefix, number = split_key(key)
            highest[prefix] = max(highest.get(prefix, 0), number)
        counted = dict(SandboxKeyNumber.objects.filter(repository=repository).values_list("prefix", "last"))
        assert counted == highest
    assert SandboxKeyNumber.objects.aggregate(Max("last"))["last__max"] > 0


def test_a_scope_is_case_sensitive_on_every_database(db):
    repository = Repository.objects.create(name="Cases", kind="sandbox", settings={"key_prefix": "ZZ"})
    connector = connector_for(repository)
    upper = connector.create("L14", {"title": "upper"})
    lower = connector.create("l14", {"title": "lower"})
    assert [a.key for a in connector.changed_since("L14", "").artifacts] == [upper.key]
    assert [a.key for a in connector.changed_since("l14", "").artifacts] == [lower.key]
