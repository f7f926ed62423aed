"""manage.py run_redis, the embedded Redis of `make run`: a Redis that dies is started
again (the rest of the console carries on), and a stop request stops it."""

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from runtime.workers import redis_client
from tests.conftest import ROOT, wait_for
from trackers import free_port

pytestmark = pytest.mark.integration


def test_a_redis_that_dies_is_started_again_and_a_stop_request_stops_it(tmp_path):
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    env = {
        **os.environ, "DJANGO_SETTINGS_MODULE": "syncweb.settings", "REDIS_URL": url,
        "SYNCWEB_VAR_DIR": str(tmp_path), "SECRET_KEY": settings.SECRET_KEY,
    }  # fmt: skip
    supervisor = subprocess.Popen(
        [sys.executable, "manage.py", "run_redis", "--grace", "0"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:

        def server_pid():
            try:
                return redis_client(url, timeout=0.2).info()["process_id"]
            except Exception:
                return None

        first = wait_for(server_pid, 30, "Redis to answer")
        os.kill(first, signal.SIGKILL)
        second = wait_for(lambda: (pid := server_pid()) and pid != first and pid, 30, "Redis to be started again")
        assert second != first and supervisor.poll() is None
    finally:
        supervisor.send_signal(signal.SIGTERM)
        output, _ = supervisor.communicate(timeout=30)
    assert supervisor.returncode == 0, output
    assert "starting it again" in output
