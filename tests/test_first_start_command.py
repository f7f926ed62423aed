import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.roles import role_of
from synchronizations.models import Synchronization

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    return tmp_path


def run(*args):
    out = io.StringIO()
    call_command("first_start", *args, stdout=out)
    return out.getvalue()


def test_first_start_creates_an_admin_with_a_generated_password_and_the_demo(var_dir, monkeypatch):
    monkeypatch.delenv("SYNCWEB_USERNAME", raising=False)
    monkeypatch.delenv("SYNCWEB_PASSWORD", raising=False)
    out = run()
    assert "Created the admin web user 'admin'." in out
    username, password = (var_dir / "initial_admin_password").read_text().split()
    user = User.objects.get(username=username)
    assert user.check_password(password)
    assert role_of(user) == "admin"
    assert (var_dir / "initial_admin_password").stat().st_mode & 0o777 == 0o600
    assert Synchronization.objects.count() == 2000
    login = run("--print-login")
    assert "http://localhost:8080/sync/" in login
    assert f"Log in as 'admin' with password '{password}'" in login


def test_a_second_start_changes_nothing(var_dir):
    run()
    users, syncs = User.objects.count(), Synchronization.objects.count()
    assert run() == ""
    assert (User.objects.count(), Synchronization.objects.count()) == (users, syncs)


def test_username_and_password_from_the_environment(var_dir, monkeypatch):
    monkeypatch.setenv("SYNCWEB_USERNAME", "ops")
    monkeypatch.setenv("SYNCWEB_PASSWORD", "chosen-by-the-operator")
    monkeypatch.setenv("SYNCWEB_DEMO", "0")
    run()
    assert User.objects.get(username="ops").check_password("chosen-by-the-operator")
    assert not (var_dir / "initial_admin_password").exists()
    assert not Synchronization.objects.exists()
    assert "Log in as 'ops' with the password of SYNCWEB_PASSWORD." in run("--print-login")


def test_the_printed_password_disappears_once_changed(var_dir):
    run()
    user = User.objects.get(username="admin")
    user.set_password("changed-by-the-admin")
    user.save()
    out = run("--print-login")
    assert "(generated" not in out
    assert "Log in with a web user" in out
