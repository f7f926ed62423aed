"""Settings come from the environment through typed helpers that refuse bad values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from syncweb.env import env_bool, env_int, env_list, env_str, env_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("TRUE", True), ("yes", True), ("off", False), ("0", False)]
)
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X", raw)
    assert env_bool("X", not expected) is expected


@pytest.mark.parametrize("raw", ["maybe", "2", "tru"])
def test_env_bool_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("X", raw)
    with pytest.raises(ImproperlyConfigured, match=f"X={raw!r} is not a boolean"):
        env_bool("X", False)


def test_unset_or_empty_variables_give_the_default(monkeypatch):
    monkeypatch.delenv("X", raising=False)
    assert env_int("X", 7) == 7
    monkeypatch.setenv("X", "  ")
    assert env_str("X", "d") == "d"
    assert env_list("X", ["a"]) == ["a"]


@pytest.mark.parametrize("raw", ["eighty", "80.5", "0x50"])
def test_env_int_refuses_a_non_integer(monkeypatch, raw):
    monkeypatch.setenv("PORT", raw)
    with pytest.raises(ImproperlyConfigured, match="is not an integer"):
        env_int("PORT", 8080)


def test_env_int_refuses_values_out_of_range(monkeypatch):
    monkeypatch.setenv("PORT", "70000")
    with pytest.raises(ImproperlyConfigured, match="above the maximum of 65535"):
        env_int("PORT", 8080, minimum=1, maximum=65535)
    monkeypatch.setenv("PORT", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum of 1"):
        env_int("PORT", 8080, minimum=1, maximum=65535)


def test_env_list_splits_and_strips_but_refuses_empty_items(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example , b.example")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]
    monkeypatch.setenv("HOSTS", "a.example,,b.example")
    with pytest.raises(ImproperlyConfigured, match="empty item"):
        env_list("HOSTS", [])


@pytest.mark.parametrize("raw", ["localhost:6379", "http://localhost", "redis://"])
def test_env_url_refuses_a_wrong_scheme(monkeypatch, raw):
    monkeypatch.setenv("REDIS_URL", raw)
    with pytest.raises(ImproperlyConfigured, match="is not a URL starting with one of: redis://"):
        env_url("REDIS_URL", "redis://localhost", schemes=("redis",))


def run_django(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Runs manage.py with production settings and the given environment."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    clean.update(env)
    clean["DJANGO_SETTINGS_MODULE"] = "syncweb.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TIME_ZONE", "Mars/Olympus", "is not a known IANA time zone"),
        ("DEBUG", "perhaps", "is not a boolean"),
        ("SYNCWEB_PORT", "http", "is not an integer"),
        ("DATABASE_URL", "mysql://db/x", "only sqlite:// and postgres:// are supported"),
        ("REDIS_URL", "localhost:6379", "is not a URL"),
    ],
)
def test_a_bad_setting_stops_start_up_with_its_name(tmp_path, name, value, message):
    result = run_django(["check"], SYNCWEB_VAR_DIR=str(tmp_path), **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_deploy_check_is_clean_with_production_values(tmp_path):
    result = run_django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        SYNCWEB_VAR_DIR=str(tmp_path),
        SECRET_KEY="p" * 20 + "-production-secret-with-enough-variety-0123456789",
        DEBUG="0",
        ALLOWED_HOSTS="sync.example.com",
        SYNCWEB_HTTPS="1",
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_embedded_default_generates_and_keeps_a_secret_key(tmp_path):
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = run_django(["shell", "-c", code], SYNCWEB_VAR_DIR=str(tmp_path))
    second = run_django(["shell", "-c", code], SYNCWEB_VAR_DIR=str(tmp_path))
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50
    assert key in first.stdout and key in second.stdout
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("raw", ["١٢", "²", "99999999999999999999999", "nan", "inf", "1e3"])
def test_numbers_in_settings_are_ascii_finite_and_bounded(monkeypatch, raw):
    from syncweb.env import env_float

    monkeypatch.setenv("X", raw)
    with pytest.raises(ImproperlyConfigured, match="X="):
        env_int("X", 1, minimum=0, maximum=100)
    with pytest.raises(ImproperlyConfigured, match="X="):
        env_float("X", 1.0, minimum=0.0, maximum=100.0)
