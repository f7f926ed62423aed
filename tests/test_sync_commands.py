"""manage.py clear_errors and retry_syncs."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from synchronizations.models import LogEntry, Operation, Synchronization, SyncStatus
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    web, mobile = factories.mapping("Web ↔ QA"), factories.mapping("Mobile ↔ GitHub")
    old = timezone.now() - timedelta(days=10)
    return {
        "old_web": factories.sync(web, "WEB-1", SyncStatus.ERROR, error_at=old, error_message="HTTP 401 token"),
        "new_web": factories.sync(web, "WEB-2", SyncStatus.ERROR, error_message="Field 'priority' value 'Blocker'"),
        "old_mobile": factories.sync(mobile, "MOB-1", SyncStatus.ERROR, error_at=old),
        "ok": factories.sync(web, "WEB-3"),
        "ignored": factories.sync(mobile, "MOB-2", SyncStatus.IGNORED),
        "web": web,
    }


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def statuses():
    return dict(Synchronization.objects.values_list("left_key", "status"))


def test_dry_run_changes_nothing(data):
    before = statuses()
    out = run("clear_errors", "--dry-run")
    assert f"Would clear errors 3 sync(s): {data['old_web'].pk}, {data['new_web'].pk}, {data['old_mobile'].pk}." in out
    assert statuses() == before
    assert not Operation.objects.exists()


def test_clear_errors_changes_exactly_the_matching_syncs(data, operator):
    out = run("clear_errors", "--mapping", "Web ↔ QA", "--older-than", "7d", "--user", "operator")
    assert "Clear errors: 1 of 1 sync(s) done" in out
    assert statuses() == {"WEB-1": "ok", "WEB-2": "error", "MOB-1": "error", "WEB-3": "ok", "MOB-2": "ignored"}
    operation = Operation.objects.get()
    assert (operation.source, operation.requested_by, operation.action) == ("command", operator, "clear")
    assert LogEntry.objects.get(sync=data["old_web"]).actor == "operator"


def test_clear_errors_with_ignore_changes_and_message_filter(data):
    run("clear_errors", "--message-contains", "blocker", "--ignore-changes")
    assert statuses()["WEB-2"] == "ignored"
    assert statuses()["WEB-1"] == "error"


def test_retry_syncs_by_status_and_ids(data, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        out = run("retry_syncs", "--status", "ignored")
    assert "Retry: 1 of 1 sync(s) done" in out
    assert statuses()["MOB-2"] == "pending"
    with django_capture_on_commit_callbacks():
        run("retry_syncs", "--ids", f"{data['ok'].pk},{data['new_web'].pk}")
    assert (statuses()["WEB-3"], statuses()["WEB-2"]) == ("pending", "pending")
    assert statuses()["WEB-1"] == "error"


def test_mapping_by_id_works_and_an_unknown_mapping_is_an_error(data):
    assert "Would clear errors 2 sync(s)" in run("clear_errors", "--mapping", str(data["web"].pk), "--dry-run")
    with pytest.raises(CommandError, match="No mapping with the id or name 'nope'"):
        run("clear_errors", "--mapping", "nope")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "7 days"], "is not a duration like 7d, 12h or 30m"),
        (["--ids", "1,two"], "must be comma-separated sync ids"),
        (["--ids", "1,²"], "must be comma-separated sync ids"),
        (["--older-than", "1000000000d"], "at most 100 years"),
        (["--older-than", "²d"], "is not a duration"),
        (["--ids", ""], "--ids is empty"),
        (["--mapping", " "], "--mapping is empty"),
        (["--message-contains", ""], "--message-contains is empty"),
        (["--user", "ghost"], "No user 'ghost'"),
    ],
)
def test_bad_arguments_are_clear_errors(data, args, message):
    with pytest.raises(CommandError, match=message):
        run("clear_errors", *args)
    assert not Operation.objects.exists()


def test_nothing_matching_says_so(data):
    assert "No sync matches; nothing to do." in run("clear_errors", "--message-contains", "no such text")


def test_more_than_100_asks_first_unless_yes(data, monkeypatch):
    for number in range(101):
        factories.sync(data["web"], f"BULK-{number}", SyncStatus.ERROR)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="104 syncs match; pass --yes"):
        run("clear_errors")
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert "Nothing was changed." in run("clear_errors")
    assert Synchronization.objects.filter(status=SyncStatus.ERROR).count() == 104
    assert "104 of 104 sync(s) done" in run("clear_errors", "--yes")
    assert not Synchronization.objects.filter(status=SyncStatus.ERROR).exists()
