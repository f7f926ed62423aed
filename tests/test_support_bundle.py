"""The admins' support bundle: what it holds, who may have it, and that no secret is in it."""

import io
import json
import re
import zipfile
from datetime import UTC, datetime

import pytest

from alerts.models import Channel, Delivery
from synchronizations.models import LogEntry, Repository, Synchronization
from syncweb import support
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


def test_times_are_iso_8601_not_python_repr(client_as, admin_user, secrets_everywhere):
    moment = datetime(2026, 11, 29, 16, 54, 34, tzinfo=UTC)
    Repository.objects.filter(pk=secrets_everywhere.left_id).update(last_success_at=moment)
    files = files_of(client_as(admin_user).get("/sync/support-bundle.zip"))
    assert not [name for name, text in files.items() if "datetime.datetime(" in text or "datetime.date(" in text]
    repository = next(r for r in json.loads(files["repositories.json"]) if r["id"] == secrets_everywhere.left_id)
    assert datetime.fromisoformat(repository["last_success_at"]) == moment
    error = json.loads(files["recent_errors.json"])[0]
    assert datetime.fromisoformat(error["error_at"]).tzinfo is not None and "T" in error["error_at"]


def test_harmless_values_named_like_secrets_are_kept(client_as, admin_user, secrets_everywhere, settings):
    settings.PASSWORD_RESET_TIMEOUT = 3600
    settings.AXES_PASSWORD_FORM_FIELD = "password"
    repository = Repository.objects.get(pk=secrets_everywhere.left_id)
    repository.settings = {**repository.settings, "key_prefix": "WEB"}
    repository.save()
    files = files_of(client_as(admin_user).get("/sync/support-bundle.zip"))
    shown = json.loads(files["settings.json"])
    assert shown["PASSWORD_HASHERS"] == settings.PASSWORD_HASHERS
    assert shown["AUTH_PASSWORD_VALIDATORS"][0]["NAME"].startswith("django.contrib.auth.password_validation.")
    assert shown["PASSWORD_RESET_TIMEOUT"] == 3600
    assert shown["AXES_PASSWORD_FORM_FIELD"] == "password"
    assert shown["SESSION_COOKIE_HTTPONLY"] is True
    # ... while the secrets next to them are still removed.
    assert shown["SECRET_KEY"] == shown["SYNCWEB_NOTIFY_API_TOKEN"] == "[removed]"
    assert shown["DATABASES"]["default"]["PASSWORD"] == "[removed]"
    repository = next(r for r in json.loads(files["repositories.json"]) if r["id"] == secrets_everywhere.left_id)
    assert repository["settings"] == {"api_token": "[removed]", "default_tracker": "Bug", "key_prefix": "WEB"}


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SECRET_KEY", True), ("SECRET_KEY_FALLBACKS", True), ("DB_PASSWORD", True), ("api_token", True),
        ("apiToken", True), ("GITLAB_API_KEY", True), ("SYNCWEB_CREDENTIAL_KEYS", True),
        ("aws_secret_access_key", True), ("PASSWORD_HASHERS", False), ("AUTH_PASSWORD_VALIDATORS", False),
        ("PASSWORD_RESET_TIMEOUT", False), ("AXES_PASSWORD_FORM_FIELD", False), ("key_prefix", False),
        ("left_key", False), ("SESSION_COOKIE_HTTPONLY", False), ("TOKEN_EXPIRY_DAYS", False),
    ],
)  # fmt: skip
def test_the_secret_name_rule_is_by_word(name, secret):
    assert support.secret_name(name) is secret


def test_a_password_in_any_url_of_any_value_is_removed(client_as, admin_user, secrets_everywhere):
    LogEntry.objects.create(message="GET https://bob:s3cr3t-in-url@tracker.example/api failed")
    text = "\n".join(files_of(client_as(admin_user).get("/sync/support-bundle.zip")).values())
    assert "s3cr3t-in-url" not in text
    assert "https://[removed]@tracker.example/api" in text


def test_alert_channel_urls_are_never_in_the_bundle(client_as, admin_user, secrets_everywhere):
    webhook = "https://hooks.example/services/T0SECRET1/B0SECRET2/XyZzYwebhooktoken42"
    mail = "mailtos://alice:Hunter2Secret@smtp.example.com:587?from=syncweb@example.com&to=ops@example.com"
    channels = []
    for name, url in (("Ops hook", "json://" + webhook.removeprefix("https://")), ("Ops mail", mail)):
        channel = Channel(name=name)
        channel.set_url(url)
        channel.save()
        channels.append(channel)
    # Echoed where the bundle looks: a log entry and a sync's error.
    LogEntry.objects.create(message=f"Delivery to {channels[0].url_value()} failed", detail=channels[1].url)
    factories.sync(secrets_everywhere, "WEB-9", "error", error_message="XyZzYwebhooktoken42 refused")
    Delivery.objects.create(
        channel=channels[1], kind="test", title="t", body="b", created_at=datetime.now(UTC), last_error=mail
    )
    text = "\n".join(files_of(client_as(admin_user).get("/sync/support-bundle.zip")).values())
    for secret in ("XyZzYwebhooktoken42", "Hunter2Secret", channels[0].url, channels[1].url, "T0SECRET1"):
        assert secret not in text, secret


def test_the_bundles_file_name_says_the_zone_of_its_time(client_as, admin_user, settings):
    settings.TIME_ZONE = "Asia/Kathmandu"
    disposition = client_as(admin_user).get("/sync/support-bundle.zip")["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="syncweb-support-\d{8}-\d{6}\+0545\.zip"', disposition), disposition
