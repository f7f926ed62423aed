"""A repository that refuses our credentials is unhealthy: its mappings pause with
the reason shown, its syncs wait (no flood of sync errors), and everything resumes
by itself once a call succeeds. Test connection and check_repository say what is
wrong. (Against the sandbox's refuse_credentials setting; the live trackers'
tests revoke a real key.)"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pytest_django.asserts import assertContains

from synchronizations.engine import health, process
from synchronizations.engine.detect import detect_changes, mappings_due
from synchronizations.models import LogEntry, Mapping, Repository, Synchronization, SyncStatus
from tests.engine_fixtures import set_repository

pytestmark = pytest.mark.django_db


def pending_syncs(mapping, left, count=3):
    for number in range(count):
        left.create("", {"title": f"Crash {number}", "status": "Open"})
    detect_changes(mapping.pk)
    return list(Synchronization.objects.filter(mapping=mapping).values_list("pk", flat=True))


def reload(repository):
    return Repository.objects.get(pk=repository.pk)


def test_refused_credentials_pause_the_mapping_and_send_no_sync_to_the_error_queue(mapping, left):
    ids = pending_syncs(mapping, left)
    set_repository(mapping.right, refuse_credentials=True)
    assert process.process_batch(ids, "job-1") == {"skipped": 3}
    assert set(Synchronization.objects.values_list("status", flat=True)) == {SyncStatus.PENDING}
    assert not Synchronization.objects.filter(status=SyncStatus.ERROR).exists()
    right = reload(mapping.right)
    assert (right.healthy, right.unhealthy_since is not None) == (False, True)
    assert "refused our credentials" in right.last_failure
    paused = Mapping.objects.select_related("left", "right").get(pk=mapping.pk).paused_reason
    assert paused.startswith("Paused: repository 'Right' is unhealthy since")
    # One log entry for the mapping, not one per sync.
    assert LogEntry.objects.filter(mapping=mapping, message__contains="is unhealthy").count() == 1
    assert mapping.pk not in mappings_due()


def test_it_resumes_by_itself_once_a_call_succeeds(mapping, left, settings):
    ids = pending_syncs(mapping, left)
    set_repository(mapping.right, refuse_credentials=True)
    process.process_batch(ids, "job-1")
    assert health.check_unhealthy() == []  # still refused
    set_repository(reload(mapping.right), refuse_credentials=False)
    assert health.check_unhealthy() == []  # checked a moment ago: not yet again
    Repository.objects.filter(pk=mapping.right_id).update(health_checked_at=timezone.now() - timedelta(minutes=5))
    assert health.check_unhealthy() == [mapping.right_id]
    assert reload(mapping.right).healthy
    assert LogEntry.objects.filter(mapping=mapping, message__contains="answers again").count() == 1
    assert process.queue_due() == 3
    assert process.process_batch(ids, "job-2") == {SyncStatus.OK: 3}


def test_detection_marks_the_repository_unhealthy_and_a_success_heals_it(mapping, left):
    set_repository(mapping.left, refuse_credentials=True)
    outcome = detect_changes(mapping.pk)
    assert "refused our credentials" in outcome.error
    assert not reload(mapping.left).healthy
    set_repository(reload(mapping.left), refuse_credentials=False)
    assert detect_changes(mapping.pk).error == ""
    assert reload(mapping.left).healthy and reload(mapping.left).last_success_at is not None


def test_the_pages_show_why_a_mapping_is_paused(mapping, client_as, viewer):
    Repository.objects.filter(pk=mapping.right_id).record_failure(
        "'Right' refused our credentials (HTTP 401)", timezone.now(), unhealthy=True
    )
    client = client_as(viewer)
    for url in ("/sync/", "/sync/mappings/", f"/sync/mappings/{mapping.pk}/"):
        assertContains(client.get(url), "Paused: repository &#x27;Right&#x27; is unhealthy since")


def test_a_transient_failure_waits_at_least_what_the_tracker_asked(mapping, left, monkeypatch):
    from synchronizations.engine.errors import TransientError

    ids = pending_syncs(mapping, left, count=1)

    def slow_down(self, scope, fields):
        raise TransientError("rate limited", retry_after=600)

    monkeypatch.setattr(type(left), "create_many", slow_down)
    before = timezone.now()
    assert process.process_sync(ids[0], "job-1") == SyncStatus.PENDING
    sync = Synchronization.objects.get(pk=ids[0])
    assert sync.next_retry_at >= before + timedelta(seconds=600)


def test_check_repository_says_what_is_wrong_and_fails(mapping, capsys):
    set_repository(mapping.right, refuse_credentials=True)
    with pytest.raises(CommandError, match="1 problem"):
        call_command("check_repository", "Right")
    out = capsys.readouterr().out
    assert "Reachable: yes" in out and "Credentials accepted: no" in out
    assert "The credentials are refused" in out


def test_check_repository_reports_an_unreachable_tracker(mapping, capsys):
    set_repository(mapping.left, offline=True)
    with pytest.raises(CommandError):
        call_command("check_repository", "Left")
    out = capsys.readouterr().out
    assert "The tracker did not answer as it should" in out and "Credentials accepted: not checked" in out


def test_check_repository_passes_and_heals(mapping, capsys):
    Repository.objects.filter(pk=mapping.left_id).record_failure("x", timezone.now(), unhealthy=True)
    call_command("check_repository", "Left")
    assert "is reachable and every mapping's scope and fields exist" in capsys.readouterr().out
    assert reload(mapping.left).healthy


def test_check_repository_names_an_unknown_repository(mapping):
    with pytest.raises(CommandError, match="No repository named 'Nope' \\(known: Left, Right\\)"):
        call_command("check_repository", "Nope")


def test_test_connection_in_the_admin(mapping, client_as, admin_user):
    set_repository(mapping.right, refuse_credentials=True)
    response = client_as(admin_user).post(
        "/sync/admin/synchronizations/repository/",
        {"action": "test_connection", "_selected_action": [mapping.left_id, mapping.right_id]},
        follow=True,
    )
    assertContains(response, "&#x27;Left&#x27;: reachable, credentials accepted")
    assertContains(response, "&#x27;Right&#x27;: The credentials are refused")


def test_an_unreachable_tracker_is_recorded_as_the_last_failed_call_and_stays_healthy(mapping, left):
    ids = pending_syncs(mapping, left, count=1)
    set_repository(mapping.right, offline=True)
    assert process.process_sync(ids[0], "job-1") == SyncStatus.PENDING
    right = reload(mapping.right)
    assert right.healthy
    assert right.last_failure_at is not None and "offline" in right.last_failure
