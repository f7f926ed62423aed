"""Shared fixtures: users in each role, a real Redis server, a real Celery worker, a browser."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from accounts.roles import assign_role
from runtime.management.commands.run_redis import redis_server_binary
from runtime.workers import alive_workers, redis_client
from syncweb.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    """Polls ``predicate`` until it returns something truthy, or fails naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def make_user(db):
    def make(role: str | None, username: str | None = None, password: str = PASSWORD):
        user = get_user_model().objects.create_user(username or role or "outsider", password=password)
        if role:
            assign_role(user, role)
        return user

    return make


@pytest.fixture
def viewer(make_user):
    return make_user("viewer")


@pytest.fixture
def operator(make_user):
    return make_user("operator")


@pytest.fixture
def admin_user(make_user):
    return make_user("admin")


@pytest.fixture
def outsider(make_user):
    """Signed in, but given no role."""
    return make_user(None, "outsider")


@pytest.fixture
def client_as(client):
    def login(user):
        client.force_login(user)
        return client

    return login


# --- Real Redis and a real Celery worker -------------------------------------------


class RedisServer:
    """A Redis server of the tests' own on ``port``, which a test may stop and start
    again (the chaos suite); without persistence, so a restart loses what it held."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.workdir = tempfile.mkdtemp(prefix="syncweb-redis-")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.workdir,
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

        def answers():
            try:
                return redis_client(self.url, timeout=0.2).ping()
            except Exception:
                return False

        wait_for(answers, 10, f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def redis_control():
    """The tests' Redis server (see RedisServer), on the port REDIS_URL names."""
    server = RedisServer(settings.TEST_REDIS_PORT)
    server.start()
    redis_client().flushall()
    yield server
    server.stop()
    shutil.rmtree(server.workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(redis_control):
    """The URL of the tests' own Redis server; started again if a test stopped it."""
    if redis_control.process is None:
        redis_control.start()
    return settings.REDIS_URL


def _database_url() -> str:
    """The test database, as a URL a separate process can open."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


class CeleryProcesses:
    """Starts real `celery worker` / `celery beat` processes on the test Redis and the
    test database, and stops them all afterwards."""

    def __init__(self, redis_url: str, tmp_path: Path):
        self.redis_url = redis_url
        self.tmp_path = tmp_path
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def env(self, **extra: str) -> dict:
        return {
            **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
            "DJANGO_SETTINGS_MODULE": "syncweb.settings",
            "REDIS_URL": self.redis_url,
            "DATABASE_URL": _database_url(),
            "SYNCWEB_VAR_DIR": str(self.tmp_path),
            "SECRET_KEY": settings.SECRET_KEY,
            **extra,
        }

    def _start(self, args: list[str], name: str, env: dict) -> subprocess.Popen:
        log_path = self.tmp_path / f"{name}.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "syncweb", *args],
                cwd=ROOT, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.started.append((process, log_path))
        return process

    def worker(self, concurrency: int = 1, pool: str = "prefork", **env: str) -> tuple[str, subprocess.Popen]:
        """Starts a worker (``pool="solo"``: one process, which SIGKILL stops dead)."""
        hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        process = self._start(
            ["worker", f"--concurrency={concurrency}", f"--pool={pool}", "--without-mingle", "--without-gossip",
             "--loglevel=INFO", f"--hostname={hostname}"],
            hostname.split("@")[0], env,
        )  # fmt: skip
        wait_for(lambda: hostname in alive_workers(redis_client()), 60, f"worker {hostname} to send a heartbeat")
        return hostname, process

    def beat(self, **env: str) -> subprocess.Popen:
        schedule = self.tmp_path / f"beat-{uuid.uuid4().hex[:8]}"
        return self._start(["beat", "--loglevel=INFO", f"--schedule={schedule}"], schedule.name, env)

    def stop_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process, log_path in self.started:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.returncode not in (0, -signal.SIGTERM, -signal.SIGKILL):
                print(f"--- {log_path.name} exited with {process.returncode}:\n{log_path.read_text()[-5000:]}")


@pytest.fixture
def celery_processes(redis_server, transactional_db, tmp_path):
    """Real Celery processes; the test process sends real messages meanwhile. The
    session's Redis starts empty for each test: a message an earlier test's beat
    queued must not run against this test's data (ids start again after a flush)."""
    redis_client().flushall()
    processes = CeleryProcesses(redis_server, tmp_path)
    celery_app.conf.task_always_eager = False
    try:
        yield processes
    finally:
        celery_app.conf.task_always_eager = True
        processes.stop_all()
        redis_client().flushall()


@pytest.fixture
def celery_worker(celery_processes):
    """One real `celery worker` process; yields its hostname."""
    hostname, _ = celery_processes.worker()
    return hostname


from tests.alerts_fixtures import smtp_server, webhook  # noqa: E402, F401  (fixtures)
from tests.api_fixtures import api_as  # noqa: E402, F401  (fixtures)
from tests.browser import browser, page  # noqa: E402, F401  (fixtures)
from tests.conformance_harnesses import sandbox_harness  # noqa: E402, F401  (fixtures)
from tests.engine_fixtures import left, mapping, right  # noqa: E402, F401  (fixtures)
from tests.harness_github import github_fake, github_harness, github_openapi  # noqa: E402, F401  (fixtures)
from tests.harness_gitlab import gitlab_fake, gitlab_harness  # noqa: E402, F401  (fixtures)
from tests.harness_jira import jira_harness, jira_server_harness  # noqa: E402, F401  (fixtures)
from tests.harness_redmine import redmine_harness  # noqa: E402, F401  (fixtures)
from tests.harness_roundup import roundup_harness  # noqa: E402, F401  (fixtures)
from tests.trackers_fixtures import redmine_project, redmine_server, roundup_server, unique_name  # noqa: E402, F401  (fixtures)
