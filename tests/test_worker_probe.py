"""The worker probe records its answer in a table of its own, once per token."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runtime.models import PROBE_RETENTION, WorkerProbe
from runtime.tasks import probe, probe_answer
from synchronizations.models import LogEntry

pytestmark = pytest.mark.django_db


def test_the_probe_records_who_answered_and_leaves_the_operators_log_alone():
    probe.delay("t1")  # eager in the tests: runs here
    answer = probe_answer("t1")
    assert answer is not None
    assert answer.answered_by
    assert str(answer) == f"Worker probe t1 answered by {answer.answered_by}"
    assert not LogEntry.objects.exists()


def test_an_unanswered_probe_has_no_answer():
    assert probe_answer("never-sent") is None


def test_answering_twice_records_once():
    assert WorkerProbe.record("t2", "w1@host") is True
    assert WorkerProbe.record("t2", "w2@host") is False
    assert list(WorkerProbe.objects.values_list("token", "answered_by")) == [("t2", "w1@host")]


def test_a_new_answer_drops_the_answers_older_than_the_retention():
    now = timezone.now()
    WorkerProbe.objects.create(token="old", answered_by="w", answered_at=now - PROBE_RETENTION - timedelta(minutes=1))
    WorkerProbe.objects.create(
        token="recent", answered_by="w", answered_at=now - PROBE_RETENTION + timedelta(minutes=1)
    )
    WorkerProbe.record("new", "w")
    assert set(WorkerProbe.objects.values_list("token", flat=True)) == {"recent", "new"}
