"""The status badge, one tag for the Syncs tab, the sync detail page and the Logs tab."""

import pytest
from django.template import Context, Template
from pytest_django.asserts import assertContains

from synchronizations.models import LogEntry, SyncStatus
from tests import factories


def badge(value: str) -> str:
    return Template("{% load syncweb_tags %}{% status_badge value %}").render(Context({"value": value}))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (SyncStatus.OK, '<span class="badge text-bg-success">OK</span>'),
        (SyncStatus.PENDING, '<span class="badge text-bg-info">Pending</span>'),
        (SyncStatus.PROCESSING, '<span class="badge text-bg-primary">Processing</span>'),
        (SyncStatus.ERROR, '<span class="badge text-bg-danger">Error</span>'),
        (SyncStatus.IGNORED, '<span class="badge text-bg-secondary">Ignored</span>'),
        (LogEntry.Level.WARNING, '<span class="badge text-bg-warning">Warning</span>'),
        (LogEntry.Level.INFO, '<span class="badge text-bg-light">Info</span>'),
        (LogEntry.Level.DEBUG, '<span class="badge text-bg-light">Debug</span>'),
    ],
)
def test_each_status_and_level_has_its_label_and_colour(value, expected):
    assert badge(value) == expected


def test_an_unknown_value_is_shown_escaped():
    assert badge("<b>odd</b>") == '<span class="badge text-bg-light">&lt;b&gt;odd&lt;/b&gt;</span>'


@pytest.mark.django_db
def test_the_detail_page_and_the_logs_tab_show_the_badges(client_as, viewer):
    sync = factories.sync(factories.mapping("Web ↔ QA"), "WEB-1", SyncStatus.ERROR)
    LogEntry.objects.create(sync=sync, mapping=sync.mapping, level=LogEntry.Level.WARNING, message="Slow answer")
    client = client_as(viewer)
    detail = client.get(f"/sync/syncs/{sync.pk}/")
    assertContains(detail, 'data-testid="sync-status"><span class="badge text-bg-danger">Error</span>')
    assertContains(detail, '<span class="badge text-bg-warning">Warning</span>')
    assertContains(client.get("/sync/logs/"), '<span class="badge text-bg-warning">Warning</span>')
