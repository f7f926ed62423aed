"""The operator's day in chromium: keyset pages, the export button, rows per page,
times with their zone, dark mode, the environment label, the support bundle and
the admin's favicon. With SYNCWEB_TEST_SCREENSHOTS=1 the tests that show the README's
pictures save them to docs/ (docs/screenshots.py runs them so)."""

import csv
import io
import os
import re
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from synchronizations.models import LogEntry, Synchronization, SyncStatus
from tests import factories
from tests.test_browser_frame import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DOCS = Path(__file__).resolve().parent.parent / "docs"


def screenshot(page, name: str) -> None:
    if os.environ.get("SYNCWEB_TEST_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS / name))


@pytest.fixture
def queue(admin_user):
    web, mobile = factories.mapping("Web ↔ QA"), factories.mapping("Mobile ↔ GitHub")
    now = datetime.now(UTC)
    messages = ["HTTP 401 token expired", "Field 'priority' value 'Blocker' has no mapping", "Timed out after 30 s"]
    for n in range(60):
        mapping = web if n % 3 else mobile
        factories.sync(
            mapping, f"{'WEB' if n % 3 else 'MOB'}-{n}", SyncStatus.ERROR, error_message=messages[n % 3],
            title=f"Issue {n}", last_processed_at=now - timedelta(minutes=n),
        )  # fmt: skip
    for n in range(12):
        factories.sync(web, f"OK-{n}", title=f"Done {n}")
    return {"web": web}


def test_page_through_the_error_queue_by_next_previous_and_first(page, live_server, queue):
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/syncs/?status=error&per_page=25")
    table = page.get_by_role("navigation", name="Table navigation")
    first_rows = page.locator("tbody tr").all_inner_texts()
    assert len(first_rows) == 25
    expect(table.get_by_role("link", name=re.compile("First"))).to_have_count(0)
    table.get_by_role("link", name=re.compile("Next")).click()
    # The engine processes a sync from page 1 meanwhile: page 2 does not shift.
    Synchronization.objects.filter(left_key="WEB-1").update(last_processed_at=datetime.now(UTC))
    second_rows = page.locator("tbody tr").all_inner_texts()
    expect(page).to_have_url(re.compile(r"after="))
    page.reload()
    assert page.locator("tbody tr").all_inner_texts() == second_rows  # a bookmark stays valid
    table.get_by_role("link", name=re.compile("Next")).click()
    expect(page.locator("tbody tr")).to_have_count(10)
    expect(table.get_by_role("link", name=re.compile("Next"))).to_have_count(0)
    table.get_by_role("link", name=re.compile("Previous")).click()
    assert page.locator("tbody tr").all_inner_texts() == second_rows
    table.get_by_role("link", name=re.compile("First")).click()
    expect(page.locator("tbody tr")).to_have_count(25)


def test_rows_per_page_are_chosen_and_remembered(page, live_server, queue):
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/syncs/")
    expect(page.locator("tbody tr")).to_have_count(50)
    page.get_by_label("Rows per page").select_option("25")
    expect(page.locator("tbody tr")).to_have_count(25)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Logs").click()
    expect(page.get_by_label("Rows per page")).to_have_value("25")
    page.goto(f"{live_server.url}/sync/syncs/")
    expect(page.locator("tbody tr")).to_have_count(25)


def test_export_the_filtered_syncs_the_button_says_how_many(page, live_server, queue):
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/syncs/?status=error&mapping={queue['web'].pk}")
    button = page.get_by_role("link", name="Export 40 rows (CSV)")
    expect(button).to_be_visible()
    button.hover()
    screenshot(page, "syncs-export.png")
    with page.expect_download() as download:
        button.click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == 41 and rows[0][:2] == ["id", "status"]
    assert {row[2] for row in rows[1:]} == {"Web ↔ QA"}


def test_export_the_logs(page, live_server, queue):
    for n in range(60):
        LogEntry.objects.create(message=f"=cmd {n}", level="warning")
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/logs/?level=warning")
    button = page.get_by_role("link", name="Export 60 entries (CSV)")  # counted after the page showed
    with page.expect_download() as download:
        button.click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == 61 and all(row[3].startswith("'=cmd") for row in rows[1:])


def test_times_say_their_zone_and_show_utc_on_hover(page, live_server, queue):
    Synchronization.objects.filter(left_key="WEB-1").update(last_processed_at=datetime(2026, 1, 15, 14, 5, tzinfo=UTC))
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/preferences/")
    page.get_by_label("Display time zone").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Save").click()
    page.goto(f"{live_server.url}/sync/syncs/?q=WEB-1")
    time = page.get_by_text("2026-01-15 23:05 JST")
    expect(time).to_have_attribute("title", "2026-01-15 14:05:00 UTC")
    # A filter time that happens twice says how it was read.
    page.goto(f"{live_server.url}/sync/preferences/")
    page.get_by_label("Display time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Save").click()
    page.goto(f"{live_server.url}/sync/logs/")
    page.get_by_label("Since").fill("2026-10-25T02:30")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("status").filter(has_text="happens twice in Europe/Berlin")).to_contain_text(
        "read as the first of the two, 02:30 CEST"
    )


def background(page) -> str:
    return page.evaluate("getComputedStyle(document.body).backgroundColor")


def test_dark_mode_follows_the_system_and_the_switch_is_remembered(browser, live_server, queue):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        log_in(page, live_server, "admin")
        expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")  # auto, the system is dark
        assert background(page) == "rgb(33, 37, 41)"
        page.get_by_role("button", name="Theme").click()
        page.get_by_role("button", name="Light").click()
        expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")
        assert background(page) == "rgb(255, 255, 255)"
        page.goto(f"{live_server.url}/sync/syncs/")
        expect(page.locator("html")).to_have_attribute("data-bs-theme", "light")  # remembered
        page.get_by_role("button", name="Theme").click()
        page.get_by_role("button", name="Dark").click()
        expect(page.locator("html")).to_have_attribute("data-bs-theme", "dark")
        page.goto(f"{live_server.url}/sync/syncs/?status=error")
        # Badges keep their contrast: white text on the danger red.
        badge = page.locator("tbody .badge").first
        assert badge.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
        screenshot(page, "dark-mode.png")
        page.goto(f"{live_server.url}/sync/metrics/")
        expect(page.locator("#daily-chart")).to_be_visible()
        colour = page.evaluate("Chart.defaults.color")
        assert colour.startswith("#dee2e6") or colour == "rgb(222, 226, 230)"  # the dark theme's text
    finally:
        context.close()


def test_the_environment_label_is_in_every_header_and_title(page, live_server, queue, settings):
    settings.SYNCWEB_ENVIRONMENT = "production"
    log_in(page, live_server, "admin")
    band = page.get_by_role("note", name="Environment")
    expect(band).to_have_text(re.compile("production environment", re.I))
    assert band.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(220, 53, 69)"
    expect(page).to_have_title("[production] Dashboard · syncweb")
    page.goto(f"{live_server.url}/sync/syncs/?status=error")
    expect(page).to_have_title("[production] Syncs · syncweb")
    screenshot(page, "environment-label.png")
    page.goto(f"{live_server.url}/sync/admin/")
    expect(page.get_by_role("note", name="Environment")).to_be_visible()
    expect(page).to_have_title(re.compile(r"^\[production\] "))


def test_an_admin_downloads_the_support_bundle_from_the_logs(page, live_server, queue):
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/logs/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Support bundle").click()
    names = zipfile.ZipFile(download.value.path()).namelist()
    assert "syncweb-support/settings.json" in names


def test_the_admin_pages_get_a_favicon(page, live_server, queue):
    missing = []
    page.on("response", lambda response: response.status == 404 and missing.append(response.url))
    log_in(page, live_server, "admin")
    page.goto(f"{live_server.url}/sync/admin/")
    response = page.request.get(f"{live_server.url}/favicon.ico")
    assert response.status == 200 and response.headers["content-type"] == "image/vnd.microsoft.icon"
    assert page.locator("link[rel=icon]").get_attribute("href").endswith("favicon.png")
    assert missing == []
