"""A Roundup tracker from PyPI (``roundup``, pinned in requirements-dev.txt): the
``classic`` template on SQLite under a work directory, served by ``roundup-server`` on
127.0.0.1.

Set-up (``roundup-admin``): ``install classic sqlite``, then config.ini's
``[tracker] web`` is set to ``base_url``, ``[mail] domain`` (required) to
example.invalid, ``[main] password_pbkdf2_default_rounds`` to 1000 (REST calls with basic
auth check the password on every request: at the default 250,000 rounds of
PBKDF2-SHA512 each call costs some 0.3 s of CPU here; at 1000 a GET takes ~50 ms) and
``[web] api_failed_login_limit`` to 0 (by default four wrong passwords lock a user name
out of the API for ten minutes, which tests of refused credentials would trip); then
``initialise`` (the admin, the classic statuses and priorities) and ``create user`` for
a second user with the role User (which has "Rest Access"). A work directory that was set up before is reused as it is
(its web URL follows the port).

What a REST client must send (Roundup 2.6, classic template):

- URLs: ``{base_url}rest/data/issue`` (a list: ``{"data": {"collection": [{"id",
  "link"}], "@total_size"}}``), ``{base_url}rest/data/issue/N`` (one item:
  ``{"data": {"id", "type", "link", "attributes": {...}, "@etag"}}``). ``base_url`` ends
  with ``/`` and its host is ``127.0.0.1``: use it as given, not ``localhost``, since
  Roundup checks the Host (and Origin) header against it.
- Authentication: HTTP basic auth, on every request (the anonymous user has no REST
  access: 403). A wrong password is a 401 with a text/plain body, not JSON.
- Every POST, PUT, PATCH and DELETE (Roundup's CSRF protection): the header
  ``X-Requested-With`` (any value) and ``Origin: http://127.0.0.1:PORT`` (``origin``:
  scheme, host and port, no path, no trailing slash). Without X-Requested-With the
  answer is 400 "Required Header Missing"; a GET with a foreign Origin is refused
  too. ``rest_headers`` holds both, with ``Accept: application/json``.
- Create: ``POST rest/data/issue`` with a JSON body ``{"title": ..., "priority":
  "bug"}`` (links by id or by key name: status "unread", priority "bug", assignedto
  "tester") answers 201 ``{"data": {"id", "link"}}``.
- Update: ``PUT rest/data/issue/N`` (the properties to set) or ``PATCH`` (the same
  with ``"@op": "replace"`` or "add"/"remove" for multilinks) needs ``If-Match:
  <ETag>`` (with its double quotes, as sent in the ETag header or ``@etag``) of
  the version read (or ``"@etag"`` in the body instead); a missing or stale one is
  412 "If-Match is missing or does not match". Every change makes a new ETag. When
  the answer is gzip-compressed (httpx asks for it by default) the ETag header gets a
  ``-gzip`` suffix, ``"abc…-gzip"``, while ``@etag`` in the body has none: If-Match
  accepts both; compare versions by ``@etag``. The answer (200) lists the changed
  attributes only. Setting ``assignedto`` also adds that user to ``nosy`` (a detector).
- Reading links with names: ``?@verbose=2``; choosing fields: ``?@fields=title,status``;
  paging: ``?@page_size=N&@page_index=K``; sorting: ``?@sort=-activity``; filtering by
  property: ``?status=unread`` (on the list URL). ``activity`` is the last change time.
"""

import importlib.util
import os
import re
import shutil
import sys
from pathlib import Path

from trackers.base import HOST, TrackerServer, TrackerStartError, http_ok, run_step

# Installing and initialising a tracker; seconds.
PROVISION_TIMEOUT = 120.0


def is_available() -> tuple[bool, str]:
    """(True, "") when Roundup can be started here, else (False, why)."""
    if importlib.util.find_spec("roundup") is None:
        return False, "Roundup is not installed in this Python: pip install -r requirements-dev.txt"
    return True, ""


def set_ini(path: Path, values: dict[str, dict[str, str]]) -> None:
    """Sets ``values`` ({section: {option: value}}) in the ini file at ``path``, keeping
    its comments: an option's line (or its commented-out default, ``#option = ...``) is
    replaced in place; an option the section lacks is added at its end. Raises KeyError
    naming a section the file lacks."""
    pending = {section: dict(options) for section, options in values.items()}
    out: list[str] = []
    section = None

    def add_the_rest() -> None:  # before the blank lines that end the section
        end = len(out)
        while end and not out[end - 1].strip():
            end -= 1
        out[end:end] = [f"{option} = {value}" for option, value in pending.pop(section, {}).items()]

    for line in path.read_text().splitlines():
        header = re.match(r"\[(.+)\]\s*$", line)
        if header:
            add_the_rest()
            section = header.group(1)
        else:
            option = re.match(r"#?\s*([\w.-]+)\s*=", line)
            if option and option.group(1) in pending.get(section, {}):
                line = f"{option.group(1)} = {pending[section].pop(option.group(1))}"
        out.append(line)
    add_the_rest()
    if pending:
        raise KeyError(f"{path} has no section {', '.join(pending)}")
    path.write_text("\n".join(out) + "\n")


class RoundupServer(TrackerServer):
    """A Roundup tracker named ``tracker_name`` on 127.0.0.1:``port``, its files under
    ``workdir``.

    Attributes: ``base_url`` (``http://127.0.0.1:PORT/NAME/``, ending with ``/``),
    ``rest_url`` (``base_url + "rest/"``), ``origin``, ``rest_headers`` (what every
    write must carry; see the module's docstring), ``admin_login`` /
    ``admin_password`` (role Admin), ``user_login`` / ``user_password`` (a second user,
    role User: REST access, may create and edit issues, can be assigned), ``scope``
    (a mapping's scope for the whole tracker: "", as the Roundup connector reads it;
    a keyword name scopes it), ``tracker_dir``.
    ``provisioned``: "installed" or "existing" after ``start()``.

    ``start()`` blocks until ``GET rest/data/status`` answers with basic auth
    (``start_timeout`` seconds) and raises TrackerStartError naming the log file
    otherwise; set-up steps log into ``setup_log_path``, the server into ``log_path``.
    """

    kind = "roundup"
    start_timeout = 60.0

    admin_login = "admin"
    admin_password = "admin-password"  # noqa: S105  (a throwaway local tracker)
    user_login = "tester"
    user_password = "tester-password"  # noqa: S105
    scope = ""

    def __init__(self, workdir: Path, port: int, tracker_name: str = "sync-test"):
        super().__init__(workdir, port)
        self.tracker_name = tracker_name
        self.tracker_dir = self.workdir / "tracker"
        self.setup_log_path = self.workdir / "setup.log"
        self.provisioned: str | None = None

    @property
    def base_url(self) -> str:
        return f"{self.origin}/{self.tracker_name}/"

    @property
    def rest_url(self) -> str:
        """``base_url + "rest/"``; items are under ``rest_url + "data/CLASS/ID"``."""
        return f"{self.base_url}rest/"

    @property
    def rest_headers(self) -> dict[str, str]:
        """The headers every REST write must carry (harmless on reads)."""
        return {"X-Requested-With": "rest", "Origin": self.origin, "Accept": "application/json"}

    def describe(self) -> dict:
        return {
            **super().describe(),
            "username": self.admin_login,
            "password": self.admin_password,
            "scope": self.scope,
            "user": {"username": self.user_login, "password": self.user_password},
            "rest_headers": self.rest_headers,
        }

    # --- set-up --------------------------------------------------------------------

    def _prepare(self) -> None:
        ok, reason = is_available()
        if not ok:
            raise TrackerStartError(reason)
        done = self.workdir / "provisioned"
        if done.exists():
            self.provisioned = "existing"
        else:
            shutil.rmtree(self.tracker_dir, ignore_errors=True)  # what a failed set-up left
            self._admin("install", "classic", "sqlite")
            set_ini(self.tracker_dir / "config.ini", self._settings())
            self._admin("initialise", self.admin_password)
            self._admin(
                "create", "user", f"username={self.user_login}", f"password={self.user_password}", "roles=User",
                "address=tester@example.invalid", "realname=Tess Tester",
            )  # fmt: skip
            done.touch()
            self.provisioned = "installed"
        set_ini(self.tracker_dir / "config.ini", {"tracker": {"web": self.base_url}})

    def _settings(self) -> dict[str, dict[str, str]]:
        return {
            "tracker": {"web": self.base_url, "name": "syncweb test tracker"},
            # No mail host here: mail that Roundup would send (to an issue's other
            # followers when a message is added) goes to a file instead.
            "mail": {"domain": "example.invalid", "debug": str(self.tracker_dir / "mail.log")},
            "main": {"password_pbkdf2_default_rounds": "1000"},
            "web": {"api_failed_login_limit": "0"},
        }

    def _admin(self, *args: str) -> None:
        run_step(
            [sys.executable, "-m", "roundup.scripts.roundup_admin", "-i", str(self.tracker_dir), *args],
            log_path=self.setup_log_path, timeout=PROVISION_TIMEOUT, what=f"roundup-admin {args[0]}",
            cwd=self.workdir, env=self._env(),
        )  # fmt: skip

    # --- the server ------------------------------------------------------------------

    def _command(self) -> list[str]:
        # roundup-server refuses to run as root unless told which user to become;
        # becoming root again is a no-op.
        as_root = ["-u", "0"] if os.getuid() == 0 else []
        return [
            sys.executable, "-m", "roundup.scripts.roundup_server", "-n", HOST, "-p", str(self.port), *as_root,
            f"{self.tracker_name}={self.tracker_dir}",
        ]  # fmt: skip

    def _env(self) -> dict:
        return {**os.environ, "PYTHONUNBUFFERED": "1"}

    def _answers(self) -> bool:
        return http_ok(f"{self.rest_url}data/status", auth=(self.admin_login, self.admin_password))
