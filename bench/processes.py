"""The servers a benchmark starts for itself: a Redis on a free port, and one Celery
worker process (the solo pool: one process, one job at a time)."""

import socket
import subprocess
import sys
import time

from runtime.management.commands.run_redis import redis_server_binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, workdir: str = ".") -> subprocess.Popen:
    """A Redis without persistence on ``port``; give it a moment before use."""
    redis = subprocess.Popen(
        [redis_server_binary(), "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    return redis


def start_worker(**popen) -> subprocess.Popen:
    """One `celery worker --pool=solo` process of syncweb; ``popen`` as for Popen (cwd, env, stdout)."""
    command = [sys.executable, "-m", "celery", "-A", "syncweb", "worker", "--pool=solo", "--loglevel=WARNING",
               "--without-mingle", "--without-gossip"]  # fmt: skip
    return subprocess.Popen(command, **popen)


def stop(process: subprocess.Popen | None) -> None:
    if process is not None:
        process.terminate()
        process.wait()
