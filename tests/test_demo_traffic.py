import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from synchronizations import demo
from synchronizations.engine import fieldmap, process
from synchronizations.engine.detect import detect_changes
from synchronizations.engine.errors import PermanentError
from synchronizations.engine.fieldmap import LEFT
from synchronizations.models import Mapping, Repository, SandboxArtifact, Synchronization, SyncStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    demo.seed(syncs=100)


def versions():
    return dict(SandboxArtifact.objects.values_list("pk", "version"))


def edited_since(before: dict[int, int]) -> list[SandboxArtifact]:
    return [a for a in SandboxArtifact.objects.all() if a.version != before.get(a.pk)]


def test_creating_adds_an_artifact_on_the_left(seeded):
    traffic = demo.DemoTraffic(seed=3)
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    before = versions()
    said = traffic.create(mapping)
    [new] = edited_since(before)
    assert new.pk not in before and new.repository == mapping.left
    assert new.key.startswith("WEB-") and f"created {new.key}" in said


@pytest.mark.parametrize(
    ("action", "side", "fields"),
    [("edit_left", "left", {"status", "priority"}), ("edit_right", "right", {"status", "assignee"})],
)
def test_an_edit_changes_one_field_of_one_artifact_on_its_side(seeded, action, side, fields):
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    before = {a.pk: a for a in SandboxArtifact.objects.all()}
    getattr(demo.DemoTraffic(seed=3), action)(mapping)
    [edited] = edited_since({pk: a.version for pk, a in before.items()})
    assert edited.repository == getattr(mapping, side)
    changed = {name for name, value in edited.fields.items() if before[edited.pk].fields.get(name) != value}
    assert len(changed) <= 1 and changed <= fields  # the same value again changes nothing but the version


def test_an_unmappable_edit_gives_a_left_artifact_a_value_the_mapping_cannot_carry(seeded):
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    before = versions()
    demo.DemoTraffic(seed=3).unmappable_edit(mapping)
    [edited] = edited_since(before)
    assert edited.repository == mapping.left
    with pytest.raises(PermanentError):
        fieldmap.transform(mapping.field_map, LEFT, edited.fields, mapping.name)


def test_an_outage_takes_a_repository_offline_until_stop(seeded):
    traffic = demo.DemoTraffic(seed=1)
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    assert "goes offline for" in traffic.outage(mapping)
    assert Repository.objects.filter(settings__offline=True).count() == 1
    traffic.stop()
    assert Repository.objects.filter(settings__offline=True).count() == 0


def test_fixing_an_error_makes_its_artifact_mappable(seeded):
    """The sync in error is made here, not taken from the seeded mix: how many errors
    a mapping of 100 seeded syncs has depends on the day the seed runs (none, some days)."""
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).update(status=SyncStatus.OK)
    before = versions()
    demo.DemoTraffic(seed=3).unmappable_edit(mapping)
    [edited] = edited_since(before)
    sync = Synchronization.objects.get(mapping=mapping, left_key=edited.key)
    Synchronization.objects.filter(pk=sync.pk).retry(timezone.now())  # whatever status the seed gave it: due now
    assert process.process_sync(sync.pk, "job") == SyncStatus.ERROR
    demo.DemoTraffic(seed=2).fix_an_error(mapping)
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="")
    detect_changes(mapping.pk)
    assert process.process_sync(sync.pk, "job") == SyncStatus.OK


def test_the_command_runs_a_number_of_steps_and_ends_its_outages(seeded):
    out = io.StringIO()
    call_command("demo_traffic", "--count", "5", "--interval", "0", "--seed", "4", stdout=out)
    assert "Demo traffic stopped after 5 actions" in out.getvalue()
    assert not Repository.objects.filter(settings__offline=True).exists()
