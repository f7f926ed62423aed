"""`make run` and `make test` on a fresh clone: run installs the runtime pins only,
test the test tools too; the embedded start-up keeps its terminal readable."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fresh_clone(tmp_path):
    for name in ("Makefile", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def planned(clone: Path, target: str) -> str:
    """What make would run for ``target`` (make -n: nothing is run)."""
    if not shutil.which("make"):
        pytest.skip("no make")
    # Not as a sub-make of the `make test` this may run under (no "Entering directory").
    env = {name: value for name, value in os.environ.items() if name not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    command = ["make", "--no-print-directory", "-n", target]
    return subprocess.run(command, cwd=clone, env=env, capture_output=True, text=True, check=True).stdout


def test_make_run_installs_only_the_runtime_requirements(fresh_clone):
    plan = planned(fresh_clone, "run")
    assert "pip install --quiet -r requirements.txt" in plan
    assert "requirements-dev.txt" not in plan


def test_make_test_installs_the_test_tools_on_a_fresh_clone(fresh_clone):
    plan = planned(fresh_clone, "test")
    assert plan.index("-r requirements.txt") < plan.index("-r requirements-dev.txt") < plan.index("bin/pytest")


def test_routine_lines_are_quiet_and_the_login_comes_last():
    procfile = (ROOT / "Procfile").read_text()
    run = (ROOT / "bin" / "run").read_text()
    assert procfile.count("--loglevel=${CELERY_LOG_LEVEL:-INFO}") == 2
    assert 'CELERY_LOG_LEVEL="${CELERY_LOG_LEVEL:-WARNING}"' in run
    assert 'DEMO_VERBOSITY="${DEMO_VERBOSITY:-0}"' in run and "--verbosity=${DEMO_VERBOSITY:-1}" in procfile
    # The login is printed after the health check answers (a worker is up), as the last thing.
    assert run.index("/sync/health/") < run.index("first_start --print-login")


def test_the_demo_is_silent_at_verbosity_0(db, capsys):
    from django.core.management import call_command

    call_command("demo_traffic", "--count", "2", "--interval", "0", "--verbosity", "0")
    assert capsys.readouterr().out.count("\n") == 1  # only the closing line


def test_startup_noise_goes_to_files_and_the_login_stays_last():
    procfile = (ROOT / "Procfile").read_text()
    run = (ROOT / "bin" / "run").read_text()
    # gunicorn's start-up lines ("Starting gunicorn", "Booting worker") are INFO.
    assert "--log-level=${GUNICORN_LOG_LEVEL:-info}" in procfile
    assert 'GUNICORN_LOG_LEVEL="${GUNICORN_LOG_LEVEL:-warning}"' in run
    # Redis's banner and overcommit warning go to its log file (run_redis --logfile).
    assert 'REDIS_LOG_FILE="${REDIS_LOG_FILE-${SYNCWEB_VAR_DIR:-var}/redis.log}"' in run
    assert run.rstrip().splitlines()[-1] == 'wait "$honcho_pid"'
    assert run.index("first_start --print-login") > run.index("honcho start")


def test_run_redis_logs_to_the_file_it_is_given(monkeypatch, tmp_path, settings):
    from runtime.management.commands import run_redis

    started = []

    class Stop(Exception):
        pass

    def popen(argv, **kwargs):
        started.append(argv)
        raise Stop

    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("REDIS_LOG_FILE", str(tmp_path / "logs" / "redis.log"))
    monkeypatch.setattr(run_redis.subprocess, "Popen", popen)
    with pytest.raises(Stop):
        run_redis.Command().handle(grace=0)
    assert started[0][-2:] == ["--logfile", str(tmp_path / "logs" / "redis.log")]
    assert (tmp_path / "logs").is_dir()


def test_a_4xx_leaves_the_terminal_alone_a_5xx_does_not(client_as, viewer, caplog):
    """django.request logs a 403 at WARNING with its whole traceback: the terminal of
    `make run` (and every log) keeps only 5xx; the access log has the rest."""
    import logging

    assert logging.getLogger("django.request").getEffectiveLevel() == logging.ERROR
    with caplog.at_level(logging.DEBUG, logger="syncweb"):
        assert client_as(viewer).get("/sync/support-bundle.zip").status_code == 403
        assert client_as(viewer).get("/sync/no-such-page/").status_code == 404
    assert [r for r in caplog.records if r.name == "django.request"] == []
    logger = logging.getLogger("django.request")
    assert logger.isEnabledFor(logging.ERROR) and not logger.isEnabledFor(logging.WARNING)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"SYNCWEB_PASSWORD": "chosen-by-the-operator"}, "Log in as 'admin' with the password of SYNCWEB_PASSWORD."),
        (
            {"SYNCWEB_USERNAME": "ops", "SYNCWEB_PASSWORD": "chosen-by-the-operator"},
            "Log in as 'ops' with the password of SYNCWEB_PASSWORD.",
        ),
    ],
)
def test_the_login_printed_is_the_one_created(db, settings, tmp_path, monkeypatch, environment, expected):
    import io

    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("SYNCWEB_DEMO", "0")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    call_command("first_start", stdout=io.StringIO())
    out = io.StringIO()
    call_command("first_start", "--print-login", stdout=out)
    assert expected in out.getvalue()
    assert "Log in with a web user" not in out.getvalue()


def test_a_changed_password_is_not_promised(db, settings, tmp_path, monkeypatch):
    import io

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("SYNCWEB_DEMO", "0")
    monkeypatch.setenv("SYNCWEB_PASSWORD", "chosen-by-the-operator")
    call_command("first_start", stdout=io.StringIO())
    user = get_user_model().objects.get(username="admin")
    user.set_password("changed-since")
    user.save()
    out = io.StringIO()
    call_command("first_start", "--print-login", stdout=out)
    assert "Log in with a web user" in out.getvalue()
