import io

import pytest
from django.core.management import call_command

from synchronizations import demo
from synchronizations.models import Mapping, Repository, SandboxArtifact, Synchronization, SyncStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    demo.seed(syncs=100)


def versions():
    return dict(SandboxArtifact.objects.values_list("pk", "version"))


def test_every_action_changes_the_demo_trackers(seeded):
    traffic = demo.DemoTraffic(seed=3)
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    count = SandboxArtifact.objects.count()
    assert "created WEB-" in traffic.create(mapping)
    assert SandboxArtifact.objects.count() == count + 1
    for action in (traffic.edit_left, traffic.edit_right, traffic.unmappable_edit, traffic.fix_an_error):
        before = versions()
        assert action(mapping)
        assert versions() != before, action.__name__


def test_an_outage_takes_a_repository_offline_until_stop(seeded):
    traffic = demo.DemoTraffic(seed=1)
    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    assert "goes offline for" in traffic.outage(mapping)
    assert Repository.objects.filter(settings__offline=True).count() == 1
    traffic.stop()
    assert Repository.objects.filter(settings__offline=True).count() == 0


def test_fixing_an_error_makes_its_artifact_mappable(seeded):
    from synchronizations.engine import process
    from synchronizations.engine.detect import detect_changes

    mapping = Mapping.objects.get(name="Web defects ↔ QA tickets")
    sync = Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).first()
    Synchronization.objects.filter(mapping=mapping, status=SyncStatus.ERROR).exclude(pk=sync.pk).update(
        status=SyncStatus.OK
    )
    demo.DemoTraffic(seed=2).fix_an_error(mapping)
    Mapping.objects.filter(pk=mapping.pk).update(left_cursor="")
    detect_changes(mapping.pk)
    assert process.process_sync(sync.pk, "job") == SyncStatus.OK


def test_the_command_runs_a_number_of_steps_and_ends_its_outages(seeded):
    out = io.StringIO()
    call_command("demo_traffic", "--count", "5", "--interval", "0", "--seed", "4", stdout=out)
    assert "Demo traffic stopped after 5 actions" in out.getvalue()
    assert not Repository.objects.filter(settings__offline=True).exists()
