"""Repeated failed logins lock that username out from that address for a while."""

import pytest
from django.test import override_settings
from pytest_django.asserts import assertContains, assertRedirects

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def fail(client, username="viewer"):
    return client.post("/sync/login/", {"username": username, "password": "wrong"})


@override_settings(AXES_FAILURE_LIMIT=3)
def test_locked_out_after_repeated_failures_even_with_the_right_password(client, viewer):
    for _ in range(2):
        assert fail(client).status_code == 200
    response = fail(client)
    assertContains(response, "Too many failed logins", status_code=429)
    assertContains(response, "locked after 3 failed attempts", status_code=429)
    response = client.post("/sync/login/", {"username": "viewer", "password": PASSWORD})
    assertContains(response, "Too many failed logins", status_code=429)
    assert not client.session.get("_auth_user_id")


@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_of_one_username_leaves_others_alone(client, viewer, operator):
    for _ in range(3):
        fail(client, "viewer")
    response = client.post("/sync/login/", {"username": "operator", "password": PASSWORD})
    assertRedirects(response, "/sync/", fetch_redirect_response=False)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_success_resets_the_failure_count(client, viewer):
    for _ in range(2):
        fail(client)
    client.post("/sync/login/", {"username": "viewer", "password": PASSWORD})
    client.post("/sync/logout/")
    for _ in range(2):
        assert fail(client).status_code == 200
