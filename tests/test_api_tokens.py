"""Personal API tokens: stored hashed, shown once, revocable, expiring, their last
use recorded; made by a user on the API tokens page or by an admin for a user."""

import hashlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from api.models import LAST_USE_RESOLUTION, ApiToken

pytestmark = pytest.mark.django_db
PAGE = "/sync/api/tokens/"


def test_only_a_hash_is_stored_beside_a_visible_prefix(operator):
    token, plain = ApiToken.objects.issue(operator, "nightly")
    assert re.fullmatch(r"swt_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", plain)
    assert token.digest == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert ApiToken.objects.find(plain) == token
    assert ApiToken.objects.find(plain[:-1] + ("A" if plain[-1] != "A" else "B")) is None


def test_states(operator):
    now = timezone.now()
    token, _ = ApiToken.objects.issue(operator, "t", expires_at=now + timedelta(days=1))
    assert token.state(now) == "active" and token.state(now + timedelta(days=2)) == "expired"
    ApiToken.objects.filter(pk=token.pk).revoke(now)
    token.refresh_from_db()
    assert token.state(now) == "revoked"
    assert ApiToken.objects.active(now).count() == 0


def test_the_last_use_is_recorded_at_most_once_a_minute(api_as, django_assert_num_queries):
    client = api_as("viewer")
    client.get("/sync/api/v1/mappings/")
    token = ApiToken.objects.get()
    first = token.last_used_at
    assert first is not None
    client.get("/sync/api/v1/mappings/")
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.update(last_used_at=first - LAST_USE_RESOLUTION)
    client.get("/sync/api/v1/mappings/")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_a_user_makes_a_token_and_sees_it_once(client_as, viewer):
    client = client_as(viewer)
    response = client.post(PAGE, {"name": "read-only report", "expires": "30"})
    plain = re.search(r"swt_[0-9a-f]{12}_[A-Za-z0-9_-]+", response.content.decode()).group(0)
    token = ApiToken.objects.get()
    assert (token.user, token.name, token.created_by) == (viewer, "read-only report", None)
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    again = client.get(PAGE)
    assertNotContains(again, plain)
    assertContains(again, token.shown_prefix)
    assert client.get("/sync/api/v1/mappings/", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 200


def test_a_token_that_never_expires(client_as, operator):
    client_as(operator).post(PAGE, {"name": "forever", "expires": ""})
    assert ApiToken.objects.get().expires_at is None


@pytest.mark.parametrize("form", [{"name": ""}, {"name": "x" * 101}, {"name": "ok", "expires": "7"}])
def test_a_bad_form_makes_no_token(client_as, viewer, form):
    assert client_as(viewer).post(PAGE, form).status_code == 200
    assert ApiToken.objects.count() == 0


def test_the_page_lists_only_the_users_own_tokens(client_as, viewer, operator):
    ApiToken.objects.issue(operator, "operator's")
    ApiToken.objects.issue(viewer, "viewer's")
    response = client_as(viewer).get(PAGE)
    assertContains(response, "viewer&#x27;s")
    assertNotContains(response, "operator&#x27;s")


def test_a_user_revokes_their_token_but_not_anothers(client_as, viewer, operator):
    own, plain = ApiToken.objects.issue(viewer, "mine")
    other, _ = ApiToken.objects.issue(operator, "theirs")
    client = client_as(viewer)
    assertRedirects(client.post(f"/sync/api/tokens/{own.pk}/revoke/"), PAGE)
    assert client.post(f"/sync/api/tokens/{other.pk}/revoke/").status_code == 404
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.revoked_at is not None and other.revoked_at is None
    assert client.get("/sync/api/v1/mappings/", HTTP_AUTHORIZATION=f"Bearer {plain}").status_code == 401


def test_revoking_refuses_a_get(client_as, viewer):
    own, _ = ApiToken.objects.issue(viewer, "mine")
    assert client_as(viewer).get(f"/sync/api/tokens/{own.pk}/revoke/").status_code == 405


def test_anonymous_is_sent_to_login(client):
    assertRedirects(client.get(PAGE), f"/sync/login/?next={PAGE}")


def test_a_user_without_role_is_refused(client_as, outsider):
    assert client_as(outsider).get(PAGE).status_code == 403


def test_the_header_links_to_the_page(client_as, viewer):
    assertContains(client_as(viewer).get("/sync/"), f'href="{PAGE}"')


def test_an_admin_makes_a_token_for_a_user_shown_once(client_as, admin_user, viewer):
    client = client_as(admin_user)
    response = client.post(
        "/sync/admin/api/apitoken/add/", {"user": viewer.pk, "name": "ci job", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )  # fmt: skip
    token = ApiToken.objects.get()
    assert (token.user, token.created_by) == (viewer, admin_user)
    plain = re.search(r"swt_[0-9a-f]{12}_[A-Za-z0-9_-]+", response.content.decode()).group(0)
    assert ApiToken.objects.find(plain) == token
    assertNotContains(client.get(f"/sync/admin/api/apitoken/{token.pk}/change/"), plain)


def test_an_admin_revokes_tokens_in_bulk(client_as, admin_user, viewer):
    tokens = [ApiToken.objects.issue(viewer, name)[0] for name in ("a", "b")]
    client_as(admin_user).post(
        "/sync/admin/api/apitoken/", {"action": "revoke", "_selected_action": [t.pk for t in tokens]}
    )
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0


def test_operators_cannot_reach_the_tokens_admin(client_as, operator):
    assert client_as(operator).get("/sync/admin/api/apitoken/").status_code == 302


def test_an_admin_cannot_make_a_token_that_has_already_expired(client_as, admin_user, viewer):
    past = timezone.localtime(timezone.now() - timedelta(days=1))
    response = client_as(admin_user).post(
        "/sync/admin/api/apitoken/add/",
        {"user": viewer.pk, "name": "late", "expires_at_0": past.date().isoformat(), "expires_at_1": "12:00:00"},
    )
    assert response.status_code == 200
    assert "has already passed" in str(response.context["adminform"].form.errors["expires_at"])
    assert not ApiToken.objects.exists()
