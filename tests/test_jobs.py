"""synchronizations.jobs: work is sent by task name, after commit, in batches, and a
broker that refuses a message does not make the caller fail."""

import logging
import os

import pytest
from django.db import transaction
from kombu.exceptions import OperationalError

from synchronizations import jobs
from syncweb.celery import app


@pytest.fixture
def sent(monkeypatch):
    """What jobs.send() was asked to send, as (task name, args)."""
    calls = []
    monkeypatch.setattr(jobs, "send", lambda name, *args: calls.append((name, args)) or True)
    return calls


@pytest.mark.django_db
def test_many_syncs_are_queued_in_jobs_of_a_hundred(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        jobs.queue_processing(list(range(1, 252)))
        jobs.queue_processing([7])
    assert [(name, len(args[0])) for name, args in sent] == [(jobs.PROCESS_SYNCS, n) for n in (100, 100, 51, 1)]
    assert [pk for _, (ids,) in sent[:3] for pk in ids] == list(range(1, 252))


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_before_the_transaction_commits_nor_after_a_rollback(sent):
    with transaction.atomic():
        jobs.queue_operation(5)
        assert sent == []
    assert sent == [(jobs.RUN_OPERATION, (5,))]
    with pytest.raises(RuntimeError), transaction.atomic():
        jobs.queue_detection(9)
        raise RuntimeError("rolled back")
    assert sent == [(jobs.RUN_OPERATION, (5,))]


def test_every_name_jobs_sends_is_a_registered_task():
    jobs._discover_tasks()
    for name in (jobs.PROCESS_SYNCS, jobs.RUN_OPERATION, jobs.DETECT_MAPPING):
        assert name in app.tasks, name


def test_a_broker_that_refuses_the_message_is_logged_not_raised(monkeypatch, caplog):
    def refuse(self, *args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr("celery.canvas.Signature.apply_async", refuse)
    monkeypatch.setitem(app.conf, "task_always_eager", False)  # messages really go to the broker
    with caplog.at_level(logging.WARNING, logger="synchronizations.jobs"):
        assert jobs.send(jobs.RUN_OPERATION, 3) is False
    assert "could not queue synchronizations.tasks.run_operation(3,)" in caplog.text


def test_an_error_of_the_task_itself_is_not_swallowed_in_eager_mode(monkeypatch):
    def broken(self, *args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr("celery.canvas.Signature.apply_async", broken)
    with pytest.raises(ZeroDivisionError):
        jobs.send(jobs.RUN_OPERATION, 3)


@pytest.mark.django_db
def test_syncs_whose_job_the_broker_refused_are_made_due_for_the_next_round(
    monkeypatch, mapping, left, django_capture_on_commit_callbacks
):
    from synchronizations.engine.detect import detect_changes
    from synchronizations.models import Synchronization

    def refuse(self, *args, **kwargs):
        raise OperationalError("Connection refused.")

    monkeypatch.setattr("celery.canvas.Signature.apply_async", refuse)
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    left.create("", {"title": "Crash"})
    with django_capture_on_commit_callbacks(execute=True):
        detect_changes(mapping.pk)  # queues its processing: refused
    sync = Synchronization.objects.get()
    assert (sync.status, sync.next_retry_at is not None) == ("pending", True)


def test_a_fresh_process_with_redis_down_is_told_at_once_and_never_crashes():
    """Sending by name must not wait on (nor raise from) the result backend: a
    command or web process that starts while Redis is down gets False, not Celery's
    "Retry limit exceeded … result store" RuntimeError after 20 s."""
    import subprocess
    import sys

    from trackers import free_port

    script = (
        "import django; django.setup()\n"
        "from synchronizations import jobs\n"
        "print('sent' if jobs.send(jobs.PROCESS_SYNCS, [1]) else 'refused')\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "syncweb.settings",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "refused"
