"""Repository credentials: encrypted at rest, keyed from the environment, rotated
by a command, never shown back by the admin."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from synchronizations import credentials
from synchronizations.engine.errors import RepositoryError
from synchronizations.models import Repository

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db
SECRET = "api-key-4f1c9a-very-secret"


def stored(repository: Repository) -> str:
    return Repository.objects.values_list("secret", flat=True).get(pk=repository.pk)


@pytest.fixture
def repository():
    repository = Repository(name="Tracker", kind="sandbox")
    repository.set_secret(SECRET)
    repository.save()
    return repository


def test_a_secret_is_stored_encrypted_and_read_back(repository):
    assert SECRET not in stored(repository)
    assert stored(repository).startswith(credentials.PREFIX)
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET


def test_with_configured_keys_the_first_encrypts_and_all_decrypt(repository, settings):
    old = credentials.keys()[0].decode()
    new = credentials.new_key()
    settings.SYNCWEB_CREDENTIAL_KEYS = [new, old]
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET  # still read with the old key
    call_command("rotate_credentials")
    settings.SYNCWEB_CREDENTIAL_KEYS = [new]  # the old key dropped
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET


def test_secret_key_rotation_through_the_fallbacks(repository, settings):
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-that-is-long-enough-for-django-checks-123"
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET
    call_command("rotate_credentials")
    settings.SECRET_KEY_FALLBACKS = []
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET


def test_a_secret_no_key_decrypts_is_a_repository_error_naming_the_cause(repository, settings):
    settings.SYNCWEB_CREDENTIAL_KEYS = [credentials.new_key()]
    with pytest.raises(RepositoryError, match="cannot be decrypted with the keys in force") as raised:
        Repository.objects.get(pk=repository.pk).secret_value()
    assert raised.value.repository_id == repository.pk
    with pytest.raises(CommandError, match="1 secret"):
        call_command("rotate_credentials")


def test_a_plain_text_secret_is_encrypted_by_the_rotation(repository):
    Repository.objects.filter(pk=repository.pk).update(secret="plain-from-an-old-version")
    call_command("rotate_credentials")
    assert stored(repository).startswith(credentials.PREFIX)
    assert Repository.objects.get(pk=repository.pk).secret_value() == "plain-from-an-old-version"


def test_new_key_prints_a_usable_key(capsys):
    call_command("rotate_credentials", "--new-key")
    key = capsys.readouterr().out.strip()
    assert credentials.Fernet(key.encode())


def test_a_malformed_key_in_the_environment_stops_the_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "syncweb.settings", "SYNCWEB_CREDENTIAL_KEYS": "not-a-key"}
    run = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert run.returncode != 0
    assert "SYNCWEB_CREDENTIAL_KEYS has an item that is not a Fernet key" in run.stderr


def test_the_admin_never_shows_the_secret_and_an_empty_field_keeps_it(client_as, admin_user, repository):
    client = client_as(admin_user)
    page = client.get(f"/sync/admin/synchronizations/repository/{repository.pk}/change/")
    assert SECRET not in page.content.decode()
    assert stored(repository) not in page.content.decode()
    form = {"name": "Tracker", "kind": "sandbox", "base_url": "", "username": "", "secret": "", "settings": "{}"}
    client.post(f"/sync/admin/synchronizations/repository/{repository.pk}/change/", {**form, "enabled": "on"})
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET
    client.post(
        f"/sync/admin/synchronizations/repository/{repository.pk}/change/",
        {**form, "secret": "new-one", "enabled": "on"},
    )
    assert Repository.objects.get(pk=repository.pk).secret_value() == "new-one"
    assert "new-one" not in stored(repository)


def test_moving_from_the_derived_key_to_keys_of_ones_own(repository, settings, capsys):
    call_command("rotate_credentials", "--current-key")
    derived = capsys.readouterr().out.strip()
    new = credentials.new_key()
    settings.SYNCWEB_CREDENTIAL_KEYS = [new, derived]
    call_command("rotate_credentials")
    settings.SYNCWEB_CREDENTIAL_KEYS = [new]
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET


def test_the_rotation_re_encrypts_every_kind_of_secret_with_the_new_key(repository, settings):
    """Repository credentials, webhook secrets and alert channel URLs: each one no
    longer readable once the old key is dropped, had the rotation missed it."""
    from alerts.models import Channel
    from hooks.models import Webhook

    webhook = Webhook(repository=repository)
    webhook.set_secret("a-webhook-secret-of-16+", timezone.now())
    webhook.save()
    channel = Channel(name="Ops")
    channel.set_url("json://alice:pw@127.0.0.1:9/hook")
    channel.save()
    old = credentials.keys()[0].decode()
    new = credentials.new_key()
    settings.SYNCWEB_CREDENTIAL_KEYS = [new, old]
    call_command("rotate_credentials")
    settings.SYNCWEB_CREDENTIAL_KEYS = [new]
    assert Repository.objects.get(pk=repository.pk).secret_value() == SECRET
    assert Webhook.objects.get(pk=repository.pk).secret_value() == "a-webhook-secret-of-16+"
    assert Channel.objects.get(pk=channel.pk).url_value() == "json://alice:pw@127.0.0.1:9/hook"
