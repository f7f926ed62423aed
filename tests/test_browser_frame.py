"""The console in a real browser: login, the header on every page, logout."""

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECTIONS = ["Dashboard", "Syncs", "Mappings", "Metrics", "Logs"]


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/sync/")
    expect(page).to_have_url(re.compile(r"/sync/login/\?next=/sync/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()


def test_login_shows_the_header_on_every_section_and_logout_ends_it(page, live_server, operator):
    log_in(page, live_server, "operator")
    expect(page).to_have_url(f"{live_server.url}/sync/")
    header = page.get_by_role("navigation", name="Sections")
    for section in SECTIONS:
        header.get_by_role("link", name=section, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(section)
        expect(header.get_by_role("link", name=section, exact=True)).to_have_attribute("aria-current", "page")
        expect(page.get_by_text("operator", exact=True)).to_be_visible()
    # The vendored stylesheet is served and applied (Bootstrap's dark navbar).
    background = page.locator("header.navbar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(33, 37, 41)"
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{live_server.url}/sync/login/")
    page.goto(f"{live_server.url}/sync/syncs/")
    expect(page).to_have_url(re.compile(r"/sync/login/\?next=/sync/syncs/$"))


def test_wrong_password_says_so(page, live_server, viewer):
    page.goto(f"{live_server.url}/sync/login/")
    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Login").click()
    expect(page.get_by_role("alert")).to_contain_text("Please enter a correct username and password")


def test_admin_reaches_the_django_admin_from_the_header(page, live_server, admin_user):
    log_in(page, live_server, "admin")
    page.get_by_role("link", name="Admin", exact=True).click()
    expect(page.get_by_role("link", name="syncweb administration")).to_be_visible()
