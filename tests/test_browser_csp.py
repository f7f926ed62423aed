"""Every page works under the Content-Security-Policy in chromium: no violation is
reported, and the pages' scripts (menus, charts, the refreshing dashboard and
operation progress) still run."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from synchronizations import operations
from synchronizations.models import SyncStatus
from tests import factories
from tests.test_browser_frame import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records every violation the page reports, before any of its own scripts run.
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def data(admin_user):
    mapping = factories.mapping("Web ↔ QA")
    sync = factories.sync(mapping, "WEB-1", SyncStatus.ERROR, error_message="Connection to QA timed out after 30 s")
    factories.log(sync, "Processing failed")
    operation = operations.perform("retry", [sync.pk], user=admin_user)
    return {"mapping": mapping, "sync": sync, "operation": operation}


def test_no_page_violates_the_policy(page, live_server, data, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache.clear()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script(WATCH)
    log_in(page, live_server, "admin")
    urls = [
        "/sync/",
        "/sync/syncs/",
        "/sync/syncs/?status=error",
        f"/sync/syncs/{data['sync'].pk}/",
        "/sync/mappings/",
        f"/sync/mappings/{data['mapping'].pk}/",
        "/sync/metrics/",
        "/sync/logs/",
        f"/sync/operations/{data['operation'].pk}/",
        "/sync/admin/",
        "/sync/admin/synchronizations/synchronization/",
        f"/sync/admin/synchronizations/synchronization/{data['sync'].pk}/change/",
        "/sync/admin/synchronizations/mapping/add/",
        "/sync/admin/synchronizations/repository/",
        "/sync/admin/auth/user/",
        "/sync/alerts/",
        "/sync/admin/alerts/channel/add/",
        "/sync/admin/alerts/rule/",
    ]
    violations = {}
    for url in urls:
        page.goto(live_server.url + url)
        page.wait_for_load_state("networkidle")
        found = page.evaluate("window.__cspViolations")
        if found:
            violations[url] = found
    assert violations == {}
    assert [text for text in console if "Content Security Policy" in text] == []


def test_scripts_still_run_under_the_policy(page, live_server, data, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    cache.clear()
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/operations/{data['operation'].pk}/")
    bar = page.locator("[data-progress]")
    expect(bar).to_have_attribute("style", "width: 100%;")
    page.goto(f"{live_server.url}/sync/syncs/")
    page.get_by_label(f"Select sync {data['sync'].pk}").check()
    page.get_by_role("button", name="Actions").click()
    expect(page.get_by_role("button", name="Clear Errors", exact=True)).to_be_visible()


def test_the_header_is_sent(client_as, viewer):
    policy = client_as(viewer).get("/sync/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
