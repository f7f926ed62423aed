"""Every page needs a signed-in user with a role; the health check needs neither."""

import pytest
from pytest_django.asserts import assertContains, assertRedirects

from accounts.roles import can_run_actions, role_of

pytestmark = pytest.mark.django_db

SECTIONS = ["/sync/", "/sync/syncs/", "/sync/mappings/", "/sync/metrics/", "/sync/logs/", "/sync/alerts/"]
ADMIN_PAGES = ["/sync/admin/", "/sync/admin/synchronizations/synchronization/"]


def test_root_redirects_to_the_console(client):
    assertRedirects(client.get("/"), "/sync/", target_status_code=302)


@pytest.mark.parametrize("url", SECTIONS)
def test_anonymous_user_is_sent_to_login(client, url):
    assertRedirects(client.get(url), f"/sync/login/?next={url}")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_anonymous_user_is_sent_to_a_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(("/sync/admin/login/", "/sync/login/"))


def test_health_check_needs_no_login(client):
    assert client.get("/sync/health/").status_code in (200, 503)


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
@pytest.mark.parametrize("url", SECTIONS)
def test_every_role_sees_every_section_with_the_header(client_as, make_user, role, url):
    response = client_as(make_user(role)).get(url)
    assert response.status_code == 200
    for label in ["Dashboard", "Syncs", "Mappings", "Metrics", "Logs", "Log out"]:
        assertContains(response, f">{label}<")
    assertContains(response, role)  # the signed-in user's name


@pytest.mark.parametrize("url", SECTIONS)
def test_a_user_without_role_is_refused_with_a_reason(client_as, outsider, url):
    response = client_as(outsider).get(url)
    assertContains(response, "has no role yet", status_code=403)


def test_viewer_cannot_run_actions_but_operator_and_admin_can(viewer, operator, admin_user):
    assert not can_run_actions(viewer)
    assert can_run_actions(operator)
    assert can_run_actions(admin_user)


@pytest.mark.parametrize("role", ["viewer", "operator"])
@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_viewer_and_operator_cannot_reach_the_admin(client_as, make_user, role, url):
    response = client_as(make_user(role)).get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/sync/admin/login/")


@pytest.mark.parametrize("url", ADMIN_PAGES)
def test_admin_reaches_the_admin(client_as, admin_user, url):
    assert client_as(admin_user).get(url).status_code == 200


def test_viewer_sees_no_admin_link_and_admin_does(client_as, viewer, admin_user, client):
    assert b'href="/sync/admin/"' not in client_as(viewer).get("/sync/").content
    client.logout()
    assertContains(client_as(admin_user).get("/sync/"), 'href="/sync/admin/"')


def test_roles_of_users(viewer, operator, admin_user, outsider):
    assert [role_of(u) for u in (viewer, operator, admin_user, outsider)] == ["viewer", "operator", "admin", None]


@pytest.mark.parametrize("url", [*SECTIONS, "/sync/health/"])
def test_pages_refuse_a_post(client_as, viewer, url):
    assert client_as(viewer).post(url).status_code == 405
