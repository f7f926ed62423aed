"""The local trackers of `make trackers`: Roundup, and Redmine where it is installed, on
fixed ports, their state kept under var/trackers/ between runs."""

from pathlib import Path
from typing import Self

from trackers import redmine
from trackers.base import ROOT, TrackerServer
from trackers.redmine import RedmineServer
from trackers.roundup import RoundupServer

DEFAULT_WORKDIR = ROOT / "var" / "trackers"
ROUNDUP_PORT = 8081
REDMINE_PORT = 8082


class LocalTrackers:
    """Roundup on ``roundup_port`` and, unless ``with_redmine`` is False or Redmine is
    not installed (``redmine_skipped`` then says why), Redmine on ``redmine_port``; their
    files under ``workdir``/roundup and ``workdir``/redmine. ``start()`` starts Roundup,
    then Redmine (stopping Roundup again if Redmine fails: TrackerStartError);
    ``stop()`` stops both. A context manager like each server."""

    def __init__(
        self,
        workdir: Path = DEFAULT_WORKDIR,
        roundup_port: int = ROUNDUP_PORT,
        redmine_port: int = REDMINE_PORT,
        with_redmine: bool = True,
    ):
        self.workdir = Path(workdir)
        self.roundup = RoundupServer(self.workdir / "roundup", roundup_port)
        available, reason = redmine.is_available() if with_redmine else (False, "left out (--no-redmine)")
        self.redmine = RedmineServer(self.workdir / "redmine", redmine_port) if available else None
        self.redmine_skipped = reason

    @property
    def servers(self) -> list[TrackerServer]:
        """The servers this starts, Roundup first."""
        return [server for server in (self.roundup, self.redmine) if server is not None]

    def start(self) -> Self:
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def wait(self) -> TrackerServer:
        """Blocks until one of the servers exits, and returns it."""
        while True:
            for server in self.servers:
                if server.wait(timeout=0.5) is not None:
                    return server

    def describe(self) -> dict:
        """What was started, for a person or for the console to create repositories and
        a mapping from: {"roundup": {...}, "redmine": {...}}, each as the server's
        describe() (kind, base_url, username, password, api_key for Redmine, scope,
        user, log); for a Redmine left out {"skipped": why}."""
        return {
            "roundup": self.roundup.describe(),
            "redmine": self.redmine.describe() if self.redmine else {"skipped": self.redmine_skipped},
        }
