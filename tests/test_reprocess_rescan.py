"""Process all artifacts of a mapping, and full rescans (asked for by an operator or
periodic): from the mapping's page, the admin and the commands, all through one
service each (operations.py, rescans.py)."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from synchronizations import operations, rescans, tasks
from synchronizations.models import LogEntry, Mapping, Operation, Synchronization, SyncStatus
from tests import factories
from tests.test_bad_input import BAD_VALUES

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    """A disabled mapping (its syncs wait pending instead of being processed) with a
    sync in each status, one of them retried twice already."""
    mapping = factories.mapping("Web ↔ QA")
    Mapping.objects.filter(pk=mapping.pk).update(enabled=False)
    factories.sync(mapping, "WEB-1", SyncStatus.OK, retry_count=2)
    factories.sync(mapping, "WEB-2", SyncStatus.ERROR)
    factories.sync(mapping, "WEB-3", SyncStatus.PENDING)
    factories.sync(mapping, "WEB-4", SyncStatus.PROCESSING, claimed_by="job-1")
    factories.sync(mapping, "WEB-5", SyncStatus.IGNORED, ignore_changes=True)
    factories.sync(factories.mapping("Other"), "OTH-1", SyncStatus.OK)
    mapping.refresh_from_db()
    return mapping


def statuses(mapping) -> dict[str, str]:
    return dict(Synchronization.objects.filter(mapping=mapping).values_list("left_key", "status"))


REPROCESSED = {"WEB-1": "pending", "WEB-2": "pending", "WEB-3": "pending", "WEB-4": "processing", "WEB-5": "ignored"}


# --- Process all artifacts ----------------------------------------------------------


def test_reprocess_leaves_processing_and_ignored_and_is_not_a_retry(web, django_assert_num_queries):
    Synchronization.objects.filter(left_key="WEB-2").update(attempts=8, lost_count=8)
    with django_assert_num_queries(1):
        changed = Synchronization.objects.filter(mapping=web).reprocess(timezone.now())
    assert len(changed) == 3
    assert statuses(web) == REPROCESSED
    retried = Synchronization.objects.get(left_key="WEB-1")
    assert retried.retry_count == 2  # not counted as a retry
    error = Synchronization.objects.get(left_key="WEB-2")
    assert (error.attempts, error.lost_count, error.retry_count) == (0, 0, 0)
    assert error.error_message  # kept for history, as Retry does
    assert Synchronization.objects.get(left_key="WEB-5").ignore_changes is True


def test_an_operation_of_several_chunks_skips_what_became_ineligible(web, operator):
    selection = operations.select_for_reprocess([web.pk])
    assert len(selection.ids) == 3
    Synchronization.objects.filter(left_key="WEB-3").claim("job-2", timezone.now())  # a worker took it meanwhile
    with override_settings(SYNCWEB_OPERATION_CHUNK=2):
        operation = operations.submit(Operation.Action.REPROCESS, selection, user=operator, run_now=True)
    assert (operation.state, operation.done, operation.skipped) == (Operation.State.FINISHED, 2, 1)
    entries = LogEntry.objects.filter(operation=operation)
    assert sorted(entries.values_list("sync__left_key", flat=True)) == ["WEB-1", "WEB-2"]
    assert set(entries.values_list("actor", "message")) == {
        ("operator", "Processing of all artifacts requested by operator.")
    }


def test_process_all_artifacts_from_the_mapping_page(client_as, operator, web, django_capture_on_commit_callbacks):
    client = client_as(operator)
    assertContains(client.get(f"/sync/mappings/{web.pk}/"), f'href="/sync/mappings/{web.pk}/reprocess/"')
    asked = client.get(f"/sync/mappings/{web.pk}/reprocess/")
    assertContains(asked, "Process all artifacts of Web ↔ QA: 3 syncs?")
    assertContains(asked, "Ignored: 1")
    assertContains(asked, "ignored syncs stay ignored")
    assertContains(asked, "Processing: 1")
    assert not Operation.objects.exists()
    shown = asked.context["selection"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/sync/mappings/{web.pk}/reprocess/",
            {"max_id": shown.max_id, "count": len(shown.ids), "digest": shown.digest},
            follow=True,
        )
    operation = Operation.objects.get()
    assertContains(response, f"Process all artifacts: operation #{operation.pk} on 3 sync(s)")
    assert (operation.action, operation.requested_by, operation.source) == ("reprocess", operator, "web")
    assert (operation.state, operation.done) == (Operation.State.FINISHED, 3)
    assert statuses(web) == REPROCESSED  # (the mapping is disabled: they wait, pending)
    assert Synchronization.objects.get(left_key="OTH-1").status == SyncStatus.OK


def test_the_confirmation_is_asked_again_when_the_syncs_changed(client_as, operator, web):
    client = client_as(operator)
    shown = client.get(f"/sync/mappings/{web.pk}/reprocess/").context["selection"]
    Synchronization.objects.filter(left_key="WEB-1").update(status=SyncStatus.IGNORED)
    response = client.post(
        f"/sync/mappings/{web.pk}/reprocess/", {"max_id": shown.max_id, "count": 3, "digest": shown.digest}
    )
    assertContains(response, "3 were concerned then, 2 are now")
    assert not Operation.objects.exists()


def test_a_mapping_with_nothing_to_process_is_refused(client_as, operator):
    mapping = factories.mapping()
    factories.sync(mapping, "WEB-1", SyncStatus.IGNORED)
    response = client_as(operator).get(f"/sync/mappings/{mapping.pk}/reprocess/", follow=True)
    assertContains(response, "has no sync to process")
    assert not Operation.objects.exists()


@pytest.mark.parametrize("field", ["max_id", "count", "digest"])
@pytest.mark.parametrize("value", BAD_VALUES)
def test_bad_confirmations_never_fail_and_change_nothing(client_as, operator, web, field, value):
    client = client_as(operator)
    client.raise_request_exception = False
    shown = client.get(f"/sync/mappings/{web.pk}/reprocess/").context["selection"]
    good = {"max_id": shown.max_id, "count": len(shown.ids), "digest": shown.digest}
    response = client.post(f"/sync/mappings/{web.pk}/reprocess/", {**good, field: value})
    assert response.status_code < 500
    if field != "count":  # a count is only what the page said; the fingerprint decides
        assert not Operation.objects.exists(), (field, value)
        assert statuses(web)["WEB-1"] == SyncStatus.OK


@pytest.mark.parametrize("action", ["reprocess", "rescan"])
def test_an_unknown_mapping_is_not_found(client_as, operator, action):
    client = client_as(operator)
    for pk in ("99999999999999999999", "424242"):
        assert client.get(f"/sync/mappings/{pk}/{action}/").status_code == 404
        assert client.post(f"/sync/mappings/{pk}/{action}/").status_code == 404


def test_viewers_see_no_buttons_and_may_not_act(client_as, viewer, web, client):
    assert client.post(f"/sync/mappings/{web.pk}/rescan/").status_code == 302  # anonymous: to the login page
    viewing = client_as(viewer)
    page = viewing.get(f"/sync/mappings/{web.pk}/")
    assertNotContains(page, "Process all artifacts")
    assertNotContains(page, f"/sync/mappings/{web.pk}/rescan/")
    for action in ("reprocess", "rescan"):
        assert viewing.get(f"/sync/mappings/{web.pk}/{action}/").status_code == 403
        assert viewing.post(f"/sync/mappings/{web.pk}/{action}/").status_code == 403
    assert not Operation.objects.exists()
    assert Mapping.objects.get(pk=web.pk).rescan_requested_at is None


def admin_mapping_action(client, action, ids, **extra):
    return client.post(
        "/sync/admin/synchronizations/mapping/",
        {"action": action, "_selected_action": ids, "index": 0, **extra},
        follow=True,
    )


def test_the_admin_action_asks_with_the_count_then_records_an_operation(
    client_as, admin_user, web, django_capture_on_commit_callbacks
):
    client = client_as(admin_user)
    asked = admin_mapping_action(client, "reprocess_mappings", [web.pk])
    assertContains(asked, "Process all artifacts: 3 syncs?")
    assertContains(asked, "ignored ones (which stay ignored)")
    assert not Operation.objects.exists()
    max_id = asked.context["hidden"]["max_id"]
    with django_capture_on_commit_callbacks(execute=True):
        done = admin_mapping_action(client, "reprocess_mappings", [web.pk], confirmed="1", max_id=max_id)
    assertContains(done, "operation #")
    operation = Operation.objects.get()
    assert (operation.action, operation.source, operation.done) == ("reprocess", "admin", 3)
    assert statuses(web) == REPROCESSED


def test_the_mapping_admin_actions_need_the_run_permission(client_as, make_user, web):
    from django.contrib.auth.models import Permission

    user = make_user(None, "auditor")
    user.is_staff = True
    user.save()
    user.user_permissions.add(Permission.objects.get(codename="view_mapping"))
    response = client_as(user).get("/sync/admin/synchronizations/mapping/")
    assert response.status_code == 200
    assert b"reprocess_mappings" not in response.content
    assert b"rescan_mappings" not in response.content


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_the_reprocess_command(web, operator, monkeypatch, django_capture_on_commit_callbacks):
    assert "Would process 3 sync(s) of 'Web ↔ QA' again" in run("reprocess_mapping", "Web ↔ QA", "--dry-run")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="3 syncs of 'Web ↔ QA' would be processed again; pass --yes"):
        run("reprocess_mapping", "Web ↔ QA")
    assert not Operation.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        out = run("reprocess_mapping", str(web.pk), "--yes", "--user", "operator")
    assert "Process all artifacts of 'Web ↔ QA': 3 of 3 sync(s) pending again" in out
    operation = Operation.objects.get()
    assert (operation.source, operation.requested_by, operation.action) == ("command", operator, "reprocess")
    assert statuses(web) == REPROCESSED


def test_the_reprocess_command_with_nothing_to_do_says_so(web):
    Synchronization.objects.filter(mapping=web).exclude(status=SyncStatus.PROCESSING).update(status="ignored")
    assert "has no sync to process" in run("reprocess_mapping", "Web ↔ QA", "--yes")
    assert not Operation.objects.exists()


@pytest.mark.parametrize("command", ["reprocess_mapping", "rescan_mapping"])
@pytest.mark.parametrize("value", ["nope", "²", "١٢", "9" * 30, "-1", "0", "", " ", "\x00"])
def test_the_commands_refuse_a_mapping_that_does_not_exist_clearly(web, command, value):
    with pytest.raises(CommandError, match=r"No mapping with the id or name|The mapping is empty"):
        run(command, value, "--yes") if command == "reprocess_mapping" else run(command, value)
    assert not Operation.objects.exists()
    assert not Mapping.objects.exclude(rescan_requested_at=None).exists()


def test_the_commands_refuse_an_unknown_user(web):
    for command in ("reprocess_mapping", "rescan_mapping"):
        with pytest.raises(CommandError, match="No user 'ghost'"):
            run(command, "Web ↔ QA", "--user", "ghost")


# --- Full rescan ------------------------------------------------------------------


@pytest.fixture
def queued(monkeypatch):
    """The mappings whose change detection was queued."""
    sent: list[int] = []
    monkeypatch.setattr("synchronizations.jobs.queue_detection", sent.append)
    return sent


def test_a_rescan_from_the_mapping_page(client_as, operator, queued):
    mapping = factories.mapping()
    client = client_as(operator)
    assertContains(client.get(f"/sync/mappings/{mapping.pk}/"), f'href="/sync/mappings/{mapping.pk}/rescan/"')
    assertContains(client.get(f"/sync/mappings/{mapping.pk}/rescan/"), "can take a while")
    assert queued == []
    before = timezone.now()
    response = client.post(f"/sync/mappings/{mapping.pk}/rescan/", follow=True)
    assertContains(response, "Full rescan of &#x27;Web ↔ QA&#x27; requested")
    assertContains(response, "pending")  # the page says a rescan is pending
    mapping.refresh_from_db()
    assert mapping.rescan_requested_at >= before
    assert queued == [mapping.pk]
    entry = LogEntry.objects.get(mapping=mapping)
    assert (entry.sync, entry.actor, entry.message) == (
        None, "operator", "Full rescan requested by operator: change detection reads both sides from the start."
    )  # fmt: skip


def test_a_rescan_of_a_mapping_that_may_not_detect_now_waits_for_it(client_as, operator, queued):
    mapping = factories.mapping()
    Mapping.objects.filter(pk=mapping.pk).update(detection_after=timezone.now() + timedelta(minutes=5))
    response = client_as(operator).post(f"/sync/mappings/{mapping.pk}/rescan/", follow=True)
    assertContains(response, "waits: a tracker asked us to wait until")
    assert queued == []
    assert Mapping.objects.get(pk=mapping.pk).rescan_requested_at is not None


def test_the_admin_and_the_command_request_a_rescan(client_as, admin_user, queued):
    first, second = factories.mapping("First"), factories.mapping("Second")
    Mapping.objects.filter(pk=second.pk).update(enabled=False)
    response = admin_mapping_action(client_as(admin_user), "rescan_mappings", [first.pk, second.pk])
    assertContains(response, "Full rescan of &#x27;First&#x27; requested.")
    assertContains(response, "waits: the mapping is disabled")
    assert queued == [first.pk]
    assert set(LogEntry.objects.values_list("actor", flat=True)) == {"admin"}
    out = run("rescan_mapping", "First")
    assert "Full rescan of 'First' requested; detection queued." in out
    assert LogEntry.objects.filter(mapping=first, actor="Management command").count() == 1
    assert "waits: the mapping is disabled" in run("rescan_mapping", str(second.pk))


def test_full_scan_hours_is_edited_in_the_admin_and_shown_on_the_page(client_as, admin_user):
    mapping = factories.mapping()
    client = client_as(admin_user)
    assertContains(client.get(f"/sync/admin/synchronizations/mapping/{mapping.pk}/change/"), 'name="full_scan_hours"')
    assertContains(client.get(f"/sync/mappings/{mapping.pk}/"), "every 24 h; last never; next ")
    Mapping.objects.filter(pk=mapping.pk).update(full_scan_hours=0)
    assertContains(client.get(f"/sync/mappings/{mapping.pk}/"), "never by itself (every 0 h); last never</dd>")


# --- Periodic full scans -----------------------------------------------------------


def scanned(mapping, hours_ago: float, every: int = 24) -> Mapping:
    Mapping.objects.filter(pk=mapping.pk).update(
        full_scan_hours=every, last_full_scan_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return mapping


def test_the_mappings_due_for_a_full_scan_are_requested_once(queued):
    due = scanned(factories.mapping("Due"), 25)
    scanned(factories.mapping("Recent"), 23)
    scanned(factories.mapping("Off"), 1000, every=0)
    disabled = scanned(factories.mapping("Disabled"), 1000)
    Mapping.objects.filter(pk=disabled.pk).update(enabled=False)
    assert rescans.request_due() == [due.pk]
    assert Mapping.objects.get(pk=due.pk).rescan_requested_at is not None
    entry = LogEntry.objects.get()
    assert (entry.mapping_id, entry.actor, entry.message) == (
        due.pk, "", "Periodic full rescan (every 24 h) requested: change detection reads both sides from the start."
    )  # fmt: skip
    assert rescans.request_due() == []  # already requested
    assert queued == []  # the next regular change detection does it


def test_never_scanned_mappings_get_their_first_full_scan_spread_over_their_period():
    mappings = [factories.mapping(f"M{n}") for n in range(30)]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    requested_at: dict[int, int] = {}
    for hour in range(24):
        now = start + timedelta(hours=hour, minutes=5)
        for pk in rescans.request_due(now):
            requested_at[pk] = hour
    # Every mapping within its first 24 hours, and never more than two in one hour.
    assert set(requested_at) == {mapping.pk for mapping in mappings}
    per_hour = [list(requested_at.values()).count(hour) for hour in range(24)]
    assert max(per_hour) <= 2


def test_the_next_full_scan_follows_the_last_one():
    mapping = scanned(factories.mapping(), 3, every=6)
    mapping.refresh_from_db()
    assert mapping.next_full_scan_at(timezone.now()) == mapping.last_full_scan_at + timedelta(hours=6)
    mapping.full_scan_hours = 0
    assert mapping.next_full_scan_at(timezone.now()) is None


def test_the_beat_schedule_requests_full_scans():
    entry = settings.CELERY_BEAT_SCHEDULE["request-full-scans"]
    assert entry["task"] == "synchronizations.tasks.request_full_scans"
    assert entry["schedule"] == 600
    scanned(factories.mapping(), 48)
    assert tasks.request_full_scans() == 1
