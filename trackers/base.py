"""What both tracker servers share: a process of their own bound to 127.0.0.1, started
in a process group of its own with its output in a log file, waited for with a
deadline, and stopped with SIGTERM, then SIGKILL."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Self

import httpx

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


class TrackerStartError(RuntimeError):
    """A tracker could not be set up, or did not answer before its deadline. The
    message names the log file to read, and ends with its last lines."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# Seconds start() waits for its port to be free.
PORT_WAIT = 10.0


def port_is_free(port: int) -> bool:
    """Whether ``port`` on 127.0.0.1 can be bound (nothing listens on it; connections of
    a server stopped a moment ago, waiting out TIME_WAIT, do not count, as they do not
    for the servers, which set SO_REUSEADDR too)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def log_tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of ``path`` ("" if it does not exist)."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop_process_group(process: subprocess.Popen, timeout: float = 10.0, signum: int = signal.SIGTERM) -> None:
    """``signum`` to ``process``'s whole group (it was started with start_new_session),
    then SIGKILL if the leader has not exited after ``timeout`` seconds; SIGKILL again for
    any child left behind (Roundup forks one per request)."""
    pgid = process.pid
    if process.poll() is None:
        _signal_group(pgid, signum)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(pgid, signal.SIGKILL)
            process.wait()
    # While a member of the group lives, its id cannot be reused; once none does,
    # this is a ProcessLookupError. (What is left is often only a zombie, a finished
    # request handler of Roundup's, that init reaps in its own time.)
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def run_step(args: list[str], *, log_path: Path, timeout: float, what: str, **popen) -> None:
    """Runs one set-up command to its end, its output appended to ``log_path``. Raises
    TrackerStartError naming the log when it fails or runs past ``timeout`` seconds (it
    is killed, with its children)."""
    with open(log_path, "ab") as log:
        log.write(f"\n$ {' '.join(args)}\n".encode())
        log.flush()
        process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process_group(process, timeout=5)
            raise TrackerStartError(
                f"{what} took longer than {timeout:.0f} s and was stopped; see {log_path}:\n{log_tail(log_path)}"
            ) from None
    if code != 0:
        raise TrackerStartError(f"{what} failed (exit code {code}); see {log_path}:\n{log_tail(log_path)}")


def http_ok(url: str, **request) -> bool:
    """Whether a GET of ``url`` answers 200 within 2 s (False on any connection error)."""
    try:
        return httpx.get(url, timeout=2.0, **request).status_code == 200
    except httpx.HTTPError:
        return False


class TrackerServer:
    """One tracker server process under ``workdir``, on 127.0.0.1:``port``.

    ``start()`` prepares ``workdir`` (subclasses: ``_prepare``), starts the server
    (``_command``) with its output in ``log_path`` and blocks until ``_answers()`` is
    true, for at most ``start_timeout`` seconds; otherwise, or if the process exits
    first, it stops what it started and raises TrackerStartError naming the log.
    ``stop()`` ends the server's whole process group. Used as a context manager it
    starts on enter and stops on exit.
    """

    kind: ClassVar[str]
    start_timeout: ClassVar[float] = 120.0
    stop_signal: ClassVar[int] = signal.SIGTERM  # what the server shuts down cleanly on

    def __init__(self, workdir: Path, port: int):
        self.workdir = Path(workdir).resolve()
        self.port = port
        self.log_path = self.workdir / "server.log"
        self.started_in: float | None = None  # seconds start() took, set by start()
        self._process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``: scheme and host, no path."""
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Prepares the work directory, starts the server and returns once it answers.
        Raises TrackerStartError (naming the log file) when it cannot."""
        if self._process is not None:
            raise RuntimeError(f"{self.kind} on port {self.port} is already started")
        began = time.monotonic()
        # A server stopped a moment ago on this port may take a second or two to let go.
        deadline = time.monotonic() + PORT_WAIT
        while not port_is_free(self.port) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not port_is_free(self.port):
            raise TrackerStartError(f"cannot start {self.kind}: port {self.port} on {HOST} is in use")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._prepare()
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._command(), cwd=self._cwd(), env=self._env(),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_until(self._answers, self.start_timeout)
        except BaseException:
            self.stop()
            raise
        self.started_in = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stops the server and anything it started (does nothing if not running)."""
        process, self._process = self._process, None
        if process is not None:
            stop_process_group(process, signum=self.stop_signal)

    def wait(self, timeout: float | None = None) -> int | None:
        """Blocks until the server exits, for at most ``timeout`` seconds (None: no
        limit); returns its exit code, or None if it still runs (or was never started)."""
        if self._process is None:
            return None
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def describe(self) -> dict:
        """What a person or a console needs to use this tracker: kind, URL, credentials,
        scope and log file (subclasses add their own keys)."""
        return {"kind": self.kind, "base_url": self.base_url, "log": str(self.log_path)}

    def _wait_until(self, predicate: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self._process.poll()
            if code is not None:
                raise TrackerStartError(
                    f"{self.kind} exited (code {code}) before it answered on port {self.port}; "
                    f"see {self.log_path}:\n{log_tail(self.log_path)}"
                )
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise TrackerStartError(
                    f"{self.kind} did not answer at {self.base_url} within {timeout:.0f} s; "
                    f"see {self.log_path}:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.1)

    # What a subclass provides.
    @property
    def base_url(self) -> str:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Sets up ``workdir`` (a no-op when a previous start already did)."""

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _cwd(self) -> Path:
        return self.workdir

    def _env(self) -> dict:
        return dict(os.environ)

    def _answers(self) -> bool:
        raise NotImplementedError
