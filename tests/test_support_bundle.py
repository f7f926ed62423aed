"""The admins' support bundle: what it holds, who may have it, and that no secret is in it."""

import io
import json
import zipfile

import pytest

from synchronizations.models import LogEntry, Repository, Synchronization
from tests import factories

pytestmark = pytest.mark.django_db

SECRET_KEY = "bundle-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
DB_PASSWORD = "db-pa55word-that-must-not-leak"
TRACKER_PASSWORD = "tracker-credential-XYZZY-42"
API_TOKEN = "glpat-apitoken-0123456789abcdef"
REDIS_PASSWORD = "redis-secret-pw-987"


@pytest.fixture
def secrets_everywhere(settings, monkeypatch):
    settings.SECRET_KEY = SECRET_KEY
    monkeypatch.setitem(settings.DATABASES["default"], "PASSWORD", DB_PASSWORD)
    settings.REDIS_URL = f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0"
    settings.SYNCWEB_NOTIFY_API_TOKEN = API_TOKEN  # any setting named like a token
    mapping = factories.mapping("Web ↔ QA")
    repository = mapping.left
    repository.username = "sync-bot"
    repository.set_secret(TRACKER_PASSWORD)
    repository.settings = {"api_token": API_TOKEN, "default_tracker": "Bug"}
    repository.save()
    # A tracker that echoed the credential in an error, and a log entry that did too.
    factories.sync(
        mapping, "WEB-1", "error", error_message=f"401 for token {API_TOKEN}", error_detail=f"auth={TRACKER_PASSWORD}"
    )
    LogEntry.objects.create(message=f"Retrying with {TRACKER_PASSWORD}", mapping=mapping)
    return mapping


def files_of(response) -> dict[str, str]:
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    return {name.removeprefix("syncweb-support/"): archive.read(name).decode() for name in archive.namelist()}


def test_the_bundle_has_what_support_needs(client_as, admin_user, secrets_everywhere):
    response = client_as(admin_user).get("/sync/support-bundle.zip")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    files = files_of(response)
    assert set(files) == {
        "README.txt", "versions.json", "settings.json", "health.json", "repositories.json", "mappings.json",
        "error_kinds.json", "recent_errors.json", "log_entries.json",
    }  # fmt: skip
    versions = json.loads(files["versions.json"])
    assert versions["packages"]["Django"].startswith("5.2")
    assert json.loads(files["settings.json"])["TIME_ZONE"] == "UTC"
    assert "database" in json.loads(files["health.json"])
    repositories = json.loads(files["repositories.json"])
    assert {"secret", "username"}.isdisjoint(repositories[0])
    assert repositories[0]["settings"]["default_tracker"] == "Bug"
    assert json.loads(files["mappings.json"])[0]["name"] == "Web ↔ QA"
    kinds = json.loads(files["error_kinds.json"])
    assert kinds["by_pattern"][0]["count"] == 1
    assert json.loads(files["recent_errors.json"])[0]["left_key"] == "WEB-1"
    assert json.loads(files["log_entries.json"])[0]["message"].startswith("Retrying with")


def test_no_secret_is_in_the_bundle(client_as, admin_user, secrets_everywhere):
    raw = client_as(admin_user).get("/sync/support-bundle.zip")
    text = "\n".join(files_of(raw).values())
    encrypted = Repository.objects.get(pk=secrets_everywhere.left_id).secret
    for secret in (SECRET_KEY, DB_PASSWORD, TRACKER_PASSWORD, API_TOKEN, REDIS_PASSWORD, encrypted):
        assert secret not in text, secret
    assert "[removed]" in text
    assert Synchronization.objects.filter(error_message__contains=API_TOKEN).exists()  # nothing was changed


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_get_the_bundle(client_as, make_user, role):
    assert client_as(make_user(role)).get("/sync/support-bundle.zip").status_code == 403


def test_the_logs_page_offers_it_to_admins_only(client_as, admin_user, viewer):
    assert "Support bundle" in client_as(admin_user).get("/sync/logs/").content.decode()
    assert "Support bundle" not in client_as(viewer).get("/sync/logs/").content.decode()
