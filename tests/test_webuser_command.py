import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.roles import role_of

pytestmark = pytest.mark.django_db
User = get_user_model()


def webuser(*args, stdin="", monkeypatch=None):
    out = io.StringIO()
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("webuser", *args, stdout=out)
    return out.getvalue()


def test_creates_a_user_with_role_and_password(monkeypatch):
    out = webuser(
        "carol", "--role", "operator", "--password-stdin", stdin="s3cret-enough-pass\n", monkeypatch=monkeypatch
    )
    assert "Created web user 'carol' with role operator." in out
    user = User.objects.get(username="carol")
    assert user.check_password("s3cret-enough-pass")
    assert role_of(user) == "operator"
    assert not user.is_staff


def test_updates_an_existing_user(monkeypatch, make_user):
    make_user("viewer", "dave")
    out = webuser("dave", "--role", "admin", "--password-stdin", stdin="another-long-pass\n", monkeypatch=monkeypatch)
    assert "Updated web user 'dave' with role admin." in out
    user = User.objects.get(username="dave")
    assert user.check_password("another-long-pass")
    assert role_of(user) == "admin"
    assert user.is_staff
    assert User.objects.count() == 1


def test_asks_for_the_password_twice_on_a_terminal(monkeypatch):
    answers = iter(["typed-twice-pass", "typed-twice-pass"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    webuser("erin", "--role", "viewer")
    assert User.objects.get(username="erin").check_password("typed-twice-pass")


def test_refuses_two_different_passwords(monkeypatch):
    answers = iter(["first-password-x", "second-password-y"])
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    with pytest.raises(CommandError, match="differ"):
        webuser("erin", "--role", "viewer")
    assert not User.objects.exists()


def test_refuses_a_bad_role(monkeypatch):
    with pytest.raises(CommandError, match="invalid choice: 'root'"):
        webuser("frank", "--role", "root", "--password-stdin", stdin="long-enough-pass\n", monkeypatch=monkeypatch)
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["", "   "])
def test_refuses_an_empty_password(monkeypatch, password):
    with pytest.raises(CommandError, match="must not be empty"):
        webuser("gina", "--role", "viewer", "--password-stdin", stdin=password + "\n", monkeypatch=monkeypatch)
    assert not User.objects.exists()


def test_refuses_a_weak_password_and_changes_nothing(monkeypatch, make_user):
    user = make_user("viewer", "hank")
    with pytest.raises(CommandError, match=r"too short|too common"):
        webuser("hank", "--role", "admin", "--password-stdin", stdin="abc\n", monkeypatch=monkeypatch)
    user.refresh_from_db()
    assert role_of(user) == "viewer"
    assert not user.check_password("abc")


def test_without_a_terminal_asks_for_password_stdin(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("webuser", "ivy", "--role", "viewer")
