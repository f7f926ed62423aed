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


# --- Behind a reverse proxy --------------------------------------------------------


def through_proxy(client, client_ip, forged="", username="viewer", password="wrong"):  # noqa: S107
    """A login POST as it arrives from a proxy on 127.0.0.1 that appended the address
    it saw to whatever X-Forwarded-For the client sent."""
    chain = f"{forged}, {client_ip}" if forged else client_ip
    return client.post(
        "/sync/login/",
        {"username": username, "password": password},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=chain,
    )


@override_settings(AXES_FAILURE_LIMIT=3, SYNCWEB_BEHIND_PROXY=True)
def test_behind_a_proxy_one_clients_failures_do_not_lock_the_user_out_for_others(client, viewer):
    for _ in range(3):
        through_proxy(client, "203.0.113.5")
    assertContains(through_proxy(client, "203.0.113.5", password=PASSWORD), "Too many failed logins", status_code=429)
    response = through_proxy(client, "198.51.100.7", password=PASSWORD)
    assertRedirects(response, "/sync/", fetch_redirect_response=False)


@override_settings(AXES_FAILURE_LIMIT=3, SYNCWEB_BEHIND_PROXY=True)
def test_a_forged_forwarded_for_is_not_believed(client, viewer):
    # The stranger writes someone else's address into the header; the proxy appends his own.
    for victim_ip in ("198.51.100.7", "192.0.2.1", "198.51.100.8"):
        through_proxy(client, "203.0.113.5", forged=victim_ip)
    response = through_proxy(client, "198.51.100.7", password=PASSWORD)
    assertRedirects(response, "/sync/", fetch_redirect_response=False)


@override_settings(AXES_FAILURE_LIMIT=3, SYNCWEB_BEHIND_PROXY=True)
def test_a_forwarded_for_from_an_untrusted_peer_is_ignored(client, viewer):
    for fake in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        client.post(
            "/sync/login/", {"username": "viewer", "password": "wrong"},
            REMOTE_ADDR="203.0.113.5", HTTP_X_FORWARDED_FOR=fake,
        )  # fmt: skip
    response = client.post(
        "/sync/login/", {"username": "viewer", "password": PASSWORD}, REMOTE_ADDR="203.0.113.5",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )  # fmt: skip
    assertContains(response, "Too many failed logins", status_code=429)  # counted against 203.0.113.5


@override_settings(AXES_FAILURE_LIMIT=3)
def test_without_a_proxy_the_header_is_never_believed(client, viewer):
    for fake in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        through_proxy(client, fake)
    assertContains(through_proxy(client, "198.51.100.9", password=PASSWORD), "Too many", status_code=429)


def test_the_client_address_rule(rf, settings):
    from accounts.client_address import client_address

    settings.SYNCWEB_BEHIND_PROXY = True
    settings.SYNCWEB_TRUSTED_PROXIES = ["127.0.0.1", "10.0.0.0/8"]

    def address(remote, chain=None):
        meta = {"REMOTE_ADDR": remote, **({"HTTP_X_FORWARDED_FOR": chain} if chain is not None else {})}
        return client_address(rf.get("/", **meta))

    assert address("127.0.0.1", "203.0.113.5") == "203.0.113.5"
    assert address("127.0.0.1", "6.6.6.6, 203.0.113.5, 10.1.2.3") == "203.0.113.5"  # two proxies
    assert address("127.0.0.1", "garbage, 203.0.113.5") == "203.0.113.5"
    assert address("127.0.0.1", "203.0.113.5, garbage") == "127.0.0.1"
    assert address("127.0.0.1") == "127.0.0.1"
    assert address("198.51.100.1", "203.0.113.5") == "198.51.100.1"
    assert address("127.0.0.1", "2001:db8::1") == "2001:db8::1"
    # Proxies that write the client's port too (Azure Application Gateway, IIS ARR).
    assert address("127.0.0.1", "203.0.113.5:1234") == "203.0.113.5"
    assert address("127.0.0.1", "[2001:db8::1]:443") == "2001:db8::1"
