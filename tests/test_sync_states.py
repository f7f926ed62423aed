"""SynchronizationQuerySet's state changes: each acts only on the syncs in the
states it starts from, in one statement, and returns what it changed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from synchronizations.models import Synchronization, SyncStatus, error_pattern
from tests import factories

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def syncs(db):
    """One sync in each status; the processing one is claimed by job "job-1"."""
    return factories.one_in_each_status(
        "WEB-1 timed out after 30 s",
        error={"error_at": NOW},
        processing={"claimed_by": "job-1"},
    )


def statuses() -> dict[int, str]:
    return dict(Synchronization.objects.values_list("pk", "status"))


def all_syncs():
    return Synchronization.objects.all()


def test_one_statement_each(syncs, django_assert_num_queries):
    for change in (
        lambda: all_syncs().claim("job-2", NOW),
        lambda: all_syncs().retry(NOW),
        lambda: all_syncs().clear(NOW),
        lambda: all_syncs().fail("boom", now=NOW),
        lambda: all_syncs().release(NOW),
        lambda: all_syncs().mark_changed(NOW),
        lambda: all_syncs().finish("job-2", NOW),
    ):
        with django_assert_num_queries(1):
            change()


def test_claim_takes_pending_and_due_syncs_only(syncs):
    later = Synchronization.objects.create(
        mapping=syncs["ok"].mapping, left_key="A-9", status=SyncStatus.PENDING, next_retry_at=NOW + timedelta(hours=1)
    )
    assert all_syncs().claim("job-2", NOW) == [syncs["pending"].pk]
    assert all_syncs().claim("job-1", NOW) == []  # not even its own claim is taken again
    assert all_syncs().claim("job-3", NOW) == []
    assert Synchronization.objects.get(pk=later.pk).status == SyncStatus.PENDING  # not due yet


def test_finish_ends_ok_or_pending_when_a_change_arrived_and_clears_the_error(syncs):
    processing = syncs["processing"]
    Synchronization.objects.filter(pk=processing.pk).update(error_message="old", recheck=True)
    assert all_syncs().finish("someone-else", NOW) == {}
    assert all_syncs().finish("job-1", NOW, title="New") == {processing.pk: SyncStatus.PENDING}
    processing.refresh_from_db()
    assert (processing.recheck, processing.claimed_by, processing.error_message, processing.title) == (
        False, "", "", "New"
    )  # fmt: skip
    all_syncs().filter(pk=processing.pk).claim("job-4", NOW)
    assert all_syncs().finish("job-4", NOW) == {processing.pk: SyncStatus.OK}


def test_fail_sets_the_error_and_its_pattern_and_counts_the_attempt(syncs):
    pending = syncs["pending"]
    assert Synchronization.objects.filter(pk=pending.pk).fail("ENG-7 timed out after 31 s", "body", now=NOW) == [
        pending.pk
    ]
    pending.refresh_from_db()
    assert (pending.status, pending.error_pattern, pending.error_detail, pending.error_at, pending.attempts) == (
        SyncStatus.ERROR, error_pattern("WEB-1 timed out after 30 s"), "body", NOW, 1
    )  # fmt: skip
    assert pending.last_processed_at == NOW


def test_fail_without_processing_keeps_the_last_processed_time(syncs):
    ok = syncs["ok"]
    Synchronization.objects.filter(pk=ok.pk).fail("boom", now=NOW, processed=False)
    ok.refresh_from_db()
    assert (ok.status, ok.last_processed_at) == (SyncStatus.ERROR, None)


def test_release_gives_a_claim_back_and_counts_a_failed_attempt(syncs):
    processing = syncs["processing"]
    retry_at = NOW + timedelta(seconds=30)
    assert all_syncs().release(NOW, retry_at=retry_at, failed_attempt=True) == [processing.pk]
    processing.refresh_from_db()
    assert (processing.status, processing.claimed_by, processing.next_retry_at) == (SyncStatus.PENDING, "", retry_at)
    assert (processing.attempts, processing.retry_count) == (1, 1)


def test_retry_takes_every_status_but_processing_and_keeps_the_error(syncs):
    expected = sorted(s.pk for status, s in syncs.items() if status != SyncStatus.PROCESSING)
    assert all_syncs().retry(NOW) == expected
    error = Synchronization.objects.get(pk=syncs["error"].pk)
    assert (error.status, error.error_message, error.retry_count) == (
        SyncStatus.PENDING,
        "WEB-1 timed out after 30 s",
        1,
    )
    assert Synchronization.objects.get(pk=syncs["ignored"].pk).ignore_changes is False


@pytest.mark.parametrize(("ignore", "ends"), [(False, SyncStatus.OK), (True, SyncStatus.IGNORED)])
def test_clear_takes_only_syncs_in_error(syncs, ignore, ends):
    before = statuses()
    assert all_syncs().clear(NOW, ignore_changes=ignore) == [syncs["error"].pk]
    error = Synchronization.objects.get(pk=syncs["error"].pk)
    assert (error.status, error.error_message, error.error_pattern, error.error_at) == (ends, "", "", None)
    assert {pk: s for pk, s in statuses().items() if pk != error.pk} == {
        pk: s for pk, s in before.items() if pk != error.pk
    }


def test_mark_changed_takes_ok_and_error(syncs):
    assert all_syncs().mark_changed(NOW) == sorted([syncs["ok"].pk, syncs["error"].pk])


def test_an_empty_id_list_changes_nothing_without_a_query(syncs, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert Synchronization.objects.filter(pk__in=[]).retry(NOW) == []
