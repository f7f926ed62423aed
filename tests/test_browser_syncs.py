"""The Syncs tab and the detail page in a real browser (Debian's chromium)."""

import pytest
from playwright.sync_api import expect

from synchronizations.models import Synchronization, SyncStatus
from tests import factories
from tests.test_browser_frame import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def data(operator):
    web = factories.mapping()
    return {
        "errors": [factories.sync(web, f"WEB-{n}", SyncStatus.ERROR) for n in range(1, 4)],
        "ok": factories.sync(web, "WEB-9"),
    }


def open_syncs(page, live_server):
    log_in(page, live_server, "operator")
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Syncs").click()


def menu_items(page):
    return {
        name: page.get_by_role("button", name=name, exact=True)
        for name in ("Retry", "Clear Errors", "Clear Errors and Ignore Changes")
    }


def test_retry_two_syncs_in_error_and_see_the_operation_finish(page, live_server, data):
    open_syncs(page, live_server)
    page.get_by_role("navigation", name="Status").get_by_role("link", name="Error").click()
    expect(page.get_by_role("heading", name="Syncs 3 matching")).to_be_visible()
    first, second = data["errors"][:2]
    page.get_by_role("checkbox", name=f"Select sync {first.pk}").check()
    page.get_by_role("checkbox", name=f"Select sync {second.pk}").check()
    page.get_by_role("button", name="Actions").click()
    items = menu_items(page)
    for item in items.values():
        expect(item).to_be_visible()
    items["Retry"].click()
    expect(page.get_by_test_id("operation-state")).to_have_text("Finished")
    expect(page.get_by_text("2 done, 0 skipped, of 2")).to_be_visible()
    assert Synchronization.objects.get(pk=data["errors"][2].pk).status == SyncStatus.ERROR  # not selected


def test_an_ok_and_an_error_sync_selected_offer_retry_alone(page, live_server, data):
    open_syncs(page, live_server)
    page.get_by_role("checkbox", name=f"Select sync {data['ok'].pk}").check()
    page.get_by_role("checkbox", name=f"Select sync {data['errors'][0].pk}").check()
    page.get_by_role("button", name="Actions").click()
    items = menu_items(page)
    expect(items["Retry"]).to_be_visible()
    expect(items["Clear Errors"]).to_be_hidden()
    expect(items["Clear Errors and Ignore Changes"]).to_be_hidden()
    # Unselecting the OK sync brings the clear actions back.
    page.keyboard.press("Escape")
    page.get_by_role("checkbox", name=f"Select sync {data['ok'].pk}").uncheck()
    page.get_by_role("button", name="Actions").click()
    expect(menu_items(page)["Clear Errors"]).to_be_visible()


def test_select_all_on_the_page_then_all_matching(page, live_server, data):
    web = data["ok"].mapping
    for n in range(60):
        factories.sync(web, f"BULK-{n}", SyncStatus.ERROR)
    open_syncs(page, live_server)
    page.get_by_role("navigation", name="Status").get_by_role("link", name="Error").click()
    page.get_by_role("checkbox", name="Select all on this page").check()
    expect(page.get_by_text("All 50 syncs on this page are selected.")).to_be_visible()
    page.get_by_role("button", name="Select all 63 matching").click()
    expect(page.get_by_text("All 63 matching syncs are selected.")).to_be_visible()
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("button", name="Clear Errors", exact=True).click()
    expect(page.get_by_role("heading", name="Clear Errors 63 syncs?")).to_be_visible()
    page.get_by_role("button", name="Clear Errors 63 syncs").click()
    expect(page.get_by_test_id("operation-state")).to_have_text("Finished")
    assert not Synchronization.objects.filter(status=SyncStatus.ERROR).exists()


def test_open_a_detail_page_and_clear_its_error(page, live_server, data):
    sync = data["errors"][0]
    open_syncs(page, live_server)
    page.get_by_role("link", name=f"Details for sync {sync.pk}").click()
    expect(page.get_by_test_id("error-message")).to_have_text(sync.error_message)
    page.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("button", name="Clear Error and Ignore Changes")).to_be_visible()
    page.get_by_role("button", name="Clear Error", exact=True).click()
    expect(page.get_by_test_id("sync-status")).to_have_text("OK")
    expect(page.get_by_text("Error cleared by operator.")).to_be_visible()
