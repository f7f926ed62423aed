"""The Dashboard, Mappings and Logs in a real browser."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from synchronizations.models import LogEntry, SyncStatus
from tests import factories
from tests.test_browser_frame import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def web(viewer):
    mapping = factories.mapping("Web ↔ QA")
    mapping.field_map = [{"left": "status", "right": "state", "direction": "both", "values": {"Open": "New"}}]
    mapping.save()
    factories.sync(mapping, "WEB-1")
    factories.sync(mapping, "WEB-2", SyncStatus.ERROR, error_message="Connection to QA timed out after 30 s")
    return mapping


def test_the_dashboard_refreshes_itself_until_paused(page, live_server, web, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # no Redis: the page says so and still works
    cache.clear()  # (no broker state kept from an earlier test)
    log_in(page, live_server, "viewer")
    expect(page.get_by_test_id("count-error")).to_have_text("1")
    expect(page.get_by_text("Redis does not answer")).to_be_visible()
    factories.sync(web, "WEB-3", SyncStatus.ERROR, error_message="Connection to QA timed out after 31 s")
    expect(page.get_by_test_id("count-error")).to_have_text("2", timeout=8000)  # without reloading
    expect(page.get_by_role("link", name="Connection to QA timed out after <n> s")).to_be_visible()
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_text("Paused")).to_be_visible()
    factories.sync(web, "WEB-4", SyncStatus.ERROR)
    page.wait_for_timeout(6000)
    expect(page.get_by_test_id("count-error")).to_have_text("2")
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_test_id("count-error")).to_have_text("3", timeout=8000)
    page.get_by_test_id("count-error").click()
    expect(page.get_by_role("heading", name="Syncs 3 matching")).to_be_visible()


def test_mappings_list_and_detail(page, live_server, web):
    log_in(page, live_server, "viewer")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Mappings").click()
    page.get_by_role("link", name="Web ↔ QA", exact=True).click()
    expect(page.get_by_role("heading", name="Web ↔ QA")).to_be_visible()
    expect(page.locator("#field-map")).to_contain_text("Open → New")
    page.get_by_role("link", name="All its syncs").click()
    expect(page.get_by_role("heading", name="Syncs 2 matching")).to_be_visible()


def test_logs_filter_and_page(page, live_server, web):
    for n in range(60):
        LogEntry.objects.create(message=f"entry {n}", mapping=web)
    LogEntry.objects.create(message="Processing failed: boom", level="error", detail="Trace here", mapping=web)
    log_in(page, live_server, "viewer")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Logs").click()
    expect(page.locator("#log-entries tbody tr")).to_have_count(50)
    page.get_by_role("link", name="Older").click()
    expect(page.locator("#log-entries tbody tr")).to_have_count(11)
    page.get_by_label("Level").select_option("error")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#log-entries tbody tr")).to_have_count(1)
    page.get_by_text("Detail").click()
    expect(page.get_by_text("Trace here")).to_be_visible()
