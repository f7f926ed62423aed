"""A real Redis, a real `celery worker` process, and the real database between them."""

import os
import signal
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from runtime.models import WorkerProbe
from runtime.tasks import probe, probe_answer
from runtime.workers import redis_client
from synchronizations.models import LogEntry
from syncweb.celery import app as celery_app
from tests.conftest import wait_for

pytestmark = pytest.mark.integration


def test_a_task_runs_through_redis_and_a_worker_process(celery_worker):
    token = uuid.uuid4().hex
    probe.delay(token)
    answer = wait_for(lambda: probe_answer(token), 30, "the worker to record the probe")
    assert answer.answered_by == celery_worker
    assert not LogEntry.objects.exists(), "the probe wrote into the operators' log"


def test_a_task_queued_inside_a_transaction_is_sent_only_after_commit(redis_server, transactional_db):
    client = redis_client()
    client.delete("celery")
    celery_app.conf.task_always_eager = False
    try:
        with transaction.atomic():
            probe.delay_on_commit(uuid.uuid4().hex)
            assert client.llen("celery") == 0, "sent before the transaction committed"
        assert client.llen("celery") == 1
    finally:
        celery_app.conf.task_always_eager = True
        client.delete("celery")


def test_running_the_probe_twice_records_it_once(celery_worker):
    token = uuid.uuid4().hex
    probe.delay(token)
    wait_for(lambda: probe_answer(token), 30, "the first probe")
    probe.delay(token)
    probe.delay(str(uuid.uuid4()))  # a later job, to know the duplicate has been handled
    wait_for(lambda: WorkerProbe.objects.count() == 2, 30, "both jobs")
    assert WorkerProbe.objects.filter(token=token).count() == 1


def test_probe_worker_command_reports_the_answering_worker(celery_worker, capsys):
    call_command("probe_worker", "--timeout", "30")
    assert f"answered by {celery_worker}" in capsys.readouterr().out


def test_health_is_ok_with_database_redis_and_a_worker(celery_worker, client):
    response = client.get("/sync/health/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert celery_worker in body["workers"]["alive"]


def test_a_job_whose_worker_process_dies_is_delivered_again(celery_worker):
    """acks_late + reject_on_worker_lost: the job is acknowledged only once it ran, so
    killing the process that runs it puts it back on the queue for the next one."""
    token = uuid.uuid4().hex
    probe.delay(token, hold=3)

    def running_pool_process():
        active = celery_app.control.inspect(destination=[celery_worker], timeout=0.5).active() or {}
        jobs = [job for job in active.get(celery_worker, []) if job["args"][0] == token]
        return jobs[0]["worker_pid"] if jobs else None

    pid = wait_for(running_pool_process, 30, "the probe to start running")
    os.kill(pid, signal.SIGKILL)
    killed_at = timezone.now()
    answer = wait_for(lambda: probe_answer(token), 30, "the probe to run again in a new pool process")
    # Recorded by a run that started after the kill, and held for its 3 s.
    assert answer.answered_at >= killed_at + timedelta(seconds=2.9)
