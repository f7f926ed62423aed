"""An operation whose job the broker did not take (Redis down) or lost (a worker
killed, Redis restarted) is recorded, said so, and dispatched again by beat and by
every worker that starts; a run applies each chunk once however often it is
dispatched. (The chaos suite does the same with a real Redis that stops.)"""

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError
from pytest_django.asserts import assertContains

from synchronizations import jobs, operations
from synchronizations.models import LogEntry, Operation, SyncStatus
from synchronizations.tasks import _redispatch_when_a_worker_starts
from syncweb.celery import app as celery_app
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")

    monkeypatch.setattr("celery.canvas.Signature.apply_async", refuse)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)  # messages really go to the broker
    return monkeypatch


@pytest.fixture
def errors():
    mapping = factories.mapping()
    return [factories.sync(mapping, f"WEB-{n}", SyncStatus.ERROR) for n in range(3)]


def test_with_the_broker_down_the_action_is_recorded_and_the_operator_told(client_as, operator, errors, broker_down):
    response = client_as(operator).post(
        "/sync/syncs/actions/", {"action": "clear", "ids": [s.pk for s in errors]}, follow=True
    )
    assert response.status_code == 200
    assertContains(response, "is recorded, but the job queue (Redis) does not answer")
    operation = Operation.objects.get()
    assert (operation.state, operation.dispatched_at) == (Operation.State.QUEUED, None)
    assertContains(client_as(operator).get(operation.get_absolute_url()), "Waiting for the job queue")


def test_beat_dispatches_it_again_once_the_broker_is_back(errors, broker_down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operations.submit("clear", operations.select_ids(s.pk for s in errors))
    assert operation.dispatched_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert operations.redispatch_stalled() == [operation.pk]  # still down: tried, not sent
    broker_down.undo()  # the broker is back (eager mode runs the job in place)
    with django_capture_on_commit_callbacks(execute=True):
        assert operations.redispatch_stalled() == [operation.pk]
    operation.refresh_from_db()
    assert (operation.state, operation.done) == (Operation.State.FINISHED, 3)
    assert operation.dispatched_at is not None


def test_a_worker_that_starts_dispatches_lost_operations(errors, broker_down, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        operation = operations.submit("clear", operations.select_ids(s.pk for s in errors))
    broker_down.undo()
    with django_capture_on_commit_callbacks(execute=True):
        _redispatch_when_a_worker_starts(sender=None)
    operation.refresh_from_db()
    assert operation.state == Operation.State.FINISHED


def test_a_running_operation_without_progress_is_stalled_one_with_progress_is_not(errors, monkeypatch):
    sent = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: sent.append(args) or True)
    now = timezone.now()
    long_ago = now - timedelta(minutes=10)
    quiet = Operation.objects.create(action="retry", state="running", dispatched_at=long_ago, progress_at=long_ago)
    busy = Operation.objects.create(action="retry", state="running", dispatched_at=long_ago, progress_at=now)
    fresh = Operation.objects.create(action="retry", state="queued", dispatched_at=now)
    Operation.objects.create(action="retry", state="finished", dispatched_at=None)
    stalled = set(Operation.objects.stalled(now, timedelta(seconds=60)).values_list("pk", flat=True))
    assert stalled == {quiet.pk}
    assert busy.pk not in stalled and fresh.pk not in stalled


def test_dispatching_twice_applies_each_chunk_once(errors, operator, settings):
    settings.SYNCWEB_OPERATION_CHUNK = 2
    operation = operations.submit("retry", operations.select_ids(s.pk for s in errors), user=operator)
    operations.run(operation.pk)
    operations.run(operation.pk)  # the same job delivered again
    operation.refresh_from_db()
    assert (operation.state, operation.done, operation.skipped) == (Operation.State.FINISHED, 3, 0)
    assert LogEntry.objects.filter(operation=operation).count() == 3
