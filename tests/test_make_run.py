"""`make run` and `make test` on a fresh clone: run installs the runtime pins only,
test the test tools too; the embedded start-up keeps its terminal readable."""

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
    return subprocess.run(["make", "-n", target], cwd=clone, capture_output=True, text=True, check=True).stdout


def test_make_run_installs_only_the_runtime_requirements(fresh_clone):
    plan = planned(fresh_clone, "run")
    assert "pip install --quiet -r requirements.txt" in plan
    assert "requirements-dev.txt" not in plan


def test_make_test_installs_the_test_tools_on_a_fresh_clone(fresh_clone):
    plan = planned(fresh_clone, "test")
    assert plan.index("-r requirements.txt") < plan.index("-r requirements-dev.txt") < plan.index("pytest")


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
