import pytest
from pytest_django.asserts import assertContains, assertRedirects

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_login_page_has_username_password_and_login_button(client):
    response = client.get("/sync/login/")
    assert response.status_code == 200
    assertContains(response, '<label class="form-label" for="id_username">Username</label>', html=True)
    assertContains(response, '<label class="form-label" for="id_password">Password</label>', html=True)
    assertContains(response, '<button type="submit" class="btn btn-primary w-100">Login</button>', html=True)


def test_login_lands_on_the_dashboard(client, viewer):
    response = client.post("/sync/login/", {"username": "viewer", "password": PASSWORD})
    assertRedirects(response, "/sync/", fetch_redirect_response=False)
    assert client.get("/sync/").context["user"] == viewer


def test_login_lands_on_the_page_first_asked_for(client, viewer):
    response = client.get("/sync/logs/")
    assertRedirects(response, "/sync/login/?next=/sync/logs/")
    response = client.post("/sync/login/", {"username": "viewer", "password": PASSWORD, "next": "/sync/logs/"})
    assertRedirects(response, "/sync/logs/", fetch_redirect_response=False)


def test_login_does_not_redirect_to_another_site(client, viewer):
    response = client.post(
        "/sync/login/", {"username": "viewer", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assertRedirects(response, "/sync/", fetch_redirect_response=False)


def test_wrong_password_shows_a_message_and_signs_nobody_in(client, viewer):
    response = client.post("/sync/login/", {"username": "viewer", "password": "wrong"})
    assert response.status_code == 200
    assertContains(response, "Please enter a correct username and password")
    assert not response.context["user"].is_authenticated


def test_logout_signs_out_and_returns_to_login(client_as, viewer):
    client = client_as(viewer)
    response = client.post("/sync/logout/")
    assertRedirects(response, "/sync/login/", fetch_redirect_response=False)
    assertRedirects(client.get("/sync/"), "/sync/login/?next=/sync/")


def test_logout_by_get_is_refused_and_keeps_the_session(client_as, viewer):
    client = client_as(viewer)
    assert client.get("/sync/logout/").status_code == 405
    assert client.get("/sync/").status_code == 200
