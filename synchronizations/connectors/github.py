"""The GitHub connector: issues of GitHub repositories through GitHub's REST API
(``X-GitHub-Api-Version: 2022-11-28``), on github.com, GitHub Enterprise Cloud and
GitHub Enterprise Server. Built on HttpConnector, which maps every HTTP failure to the
engine's errors; GitHub's own meanings (rate limits, 301, 304, 410) are added here.

Repository
    ``base_url``: ``https://api.github.com`` (also taken when empty), a GitHub
    Enterprise Server's ``https://HOST/api/v3``, or GitHub Enterprise Cloud with data
    residency's ``https://api.SUBDOMAIN.ghe.com``. Secret: a personal access token,
    fine-grained (repository permissions *Issues: read and write* and *Metadata:
    read*) or classic (scope ``repo``, or ``public_repo`` for public repositories
    only), sent as ``Authorization: Bearer``. No username. ``settings`` (all
    optional): ``overlap_seconds`` (0 to 3600, default 10: see change detection),
    ``page_size`` (1 to 100, default 100: issues per list page) and
    ``write_interval`` (seconds, 0 to 60, default 1: the least time between two
    writes of one process to one repository, as GitHub asks of clients that write a
    lot; see rate limits).

Scope (one mapping side)
    ``owner/repository`` (``octo-org/hello-world``): the repository's issues. Two
    scopes overlap when they name the same repository (GitHub's names ignore case).

Artifacts
    ``key``: ``owner/repository#42`` (GitHub's own way of writing an issue
    elsewhere), the owner and repository in lower case whatever the scope's
    spelling (GitHub's names ignore case, so re-spelling a scope links the same
    issues). ``url``:
    the issue's page (``https://github.com/owner/repository/issues/42``; on a
    server, the same path under its host). Fields, all by name:

    ================ ============================================================
    ``title``        the title
    ``body``         the description ("" when none; line ends read as ``\\n``)
    ``state``        ``open`` or ``closed``
    ``state_reason`` why it is in its state: ``completed``, ``not_planned``,
                     ``duplicate``, ``reopened``, or "" (GitHub's null)
    ``status``       state and reason in one value, for a value map from another
                     tracker's status: ``open``, ``completed``, ``not_planned``
                     or ``duplicate`` (a closed issue without a reason reads
                     ``completed``, as GitHub shows it)
    ``labels``       the label names, sorted (a list)
    ``assignees``    the assignees' logins, sorted (a list)
    ``assignee``     the first assignee's login, "" when none; writing it makes
                     that login the only assignee ("" removes every assignee)
    ``milestone``    the milestone's title, "" when none
    ================ ============================================================

    Writing: a label, assignee or milestone name that does not exist in the
    repository (labels and logins compared as GitHub does, ignoring case) is a
    FieldRefused naming the field and the value, raised before anything is written:
    GitHub itself would create a missing label, and refuse or drop an assignee it
    cannot assign. Label, assignee and milestone lists are read through the API,
    kept for the connector's life and read again (at most once a minute) when a
    name is missing. An update that GitHub answers without the values written (it
    drops labels, assignees and milestones without a word when the token's user has
    no push access) is a FieldRefused too. Once GitHub's create answered, the issue
    exists: a value it dropped, or a failure of the write that closes it, is a
    PartlyCreated (the engine links the issue, never creating it again, and writes
    those fields again as an update). A new issue is created open (GitHub's create
    takes no state) and then closed if the fields say so. Writing ``state_reason`` or ``status``
    closes or opens the issue as the value says; GitHub takes a state reason only
    with a change of state, so a closed issue whose reason changes is reopened and
    closed again with the new one (two writes, two events in its timeline).

    Pull requests are issues to GitHub's issues API; to syncweb they are not:
    change detection skips them, and get(), get_many() and update() of a pull
    request's number raise ArtifactDeleted (its sync's operator may Recreate a real
    issue from the other side, or Unlink; nothing is ever written to a pull
    request).

Version and concurrent edits
    ``version``: ``"{updated_at}/{digest}"``: the issue's ``updated_at`` (whole
    seconds) and a digest of that and of every field above, so that two edits in one
    second still change it; a list and a single read of an issue give the same
    version. GitHub has no conditional write for issues (no ``If-Match``), so
    update() reads the issue (a conditional GET: an unchanged issue costs no quota),
    raises ConflictError when its version differs from the one given, then writes
    with PATCH. The remaining race: an edit that lands between that read and the
    PATCH (tens of milliseconds) is not seen, and the fields we write overwrite its
    changes to the same fields (GitHub keeps the fields we do not send). An edit of
    the same second that changes none of the fields above (a comment) is not seen
    either, and is harmless: nothing of it is written over.

Change detection (changed_since)
    Each call lists the scope's issues, open and closed, with GitHub's ``since`` (an
    inclusive bound, to the second), ``sort=updated&direction=asc``, ``page_size``
    per page. Pages are read by keyset rather than by number: each next page is
    asked with ``since`` at the last second the page before reached, so an issue
    edited during the read (it moves to the end of the list) hides no other; only a
    page whose issues all share one second is followed by page number, and that
    second is read again until a pass finds nothing new (issues only leave a past
    second). Pull requests are skipped; an issue seen twice is returned once, at
    its newest.

    Cursor: ``""`` (from the start) or ``"2024-05-01T10:00:00Z"``, optionally
    followed by ``"|12.a1b2c3,15.0f9e8d"``. The instant: every change before that
    second has been returned. The entries: issue numbers, each with a digest of
    the version returned, of issues already returned from that second on, which
    the next call does not return again while they are unchanged (they fit in the
    mapping's 200 characters as far as they go; an issue left out is returned
    again, which is safe). The instant only ever passes seconds that are over:
    ``overlap_seconds`` before the server's clock (its ``Date`` header; the newest
    ``updated_at`` read when there is none), since ``updated_at`` has one-second
    resolution and an issue whose save commits late must not be skipped. A call
    returns whole seconds of changes, at most ``limit`` issues (more only when one
    second holds more); the cursor then continues after the last second returned.
    A call that finds nothing new in one page gives back the cursor it was given, so
    the next call makes the same request, which a conditional GET answers with 304:
    an idle repository costs no quota. (One that read more pages, of pull requests
    or of issues already returned, moves the cursor on, so as not to read them
    again.)

Rate limits and conditional requests
    Every GET is conditional: the answer's ``ETag`` and body are kept per URL
    (least recently used, CACHE_BYTES per connector) and the next GET of the URL
    sends ``If-None-Match``; a 304 is served from that copy (GitHub does not count
    it against the rate limit). A primary rate limit (403 or 429 with
    ``x-ratelimit-remaining: 0``) is a TransientError with ``retry_after`` until
    ``x-ratelimit-reset`` (measured against the answer's ``Date``); a secondary
    one (403 or 429 with ``Retry-After``, or saying "secondary rate limit") waits
    ``Retry-After`` seconds, or a minute when GitHub gives none, as its
    documentation says. Until then this process sends nothing more to the
    repository: each call raises the same TransientError at once. A success that
    leaves ``x-ratelimit-remaining`` at 0 pauses the same way until the reset.
    Writes (POST, PATCH) of one process to one repository are spaced by
    ``write_interval`` seconds. Each worker process keeps its own pause, spacing and
    ETags.

Errors
    Those of HttpConnector, and: 401 (bad or expired token) is a RepositoryError; a
    403 that is no rate limit is a permission the token lacks: about an issue or a
    repository, a PermanentError of that issue or scope (a fine-grained token may
    cover some repositories and not others), about neither (the user), a
    RepositoryError; 404 on an issue
    is ArtifactDeleted when the repository is still visible, and a PermanentError
    naming the scope when it is not (a private repository the token no longer
    sees); 410 on an issue (deleted) is ArtifactDeleted, on a repository whose
    issues are disabled a PermanentError; 301 on an issue (transferred to another
    repository) is ArtifactDeleted naming where it went, on a list (a renamed
    repository) a PermanentError asking for the new name; 422 is a FieldRefused
    naming the field GitHub's ``errors`` name.
"""

import hashlib
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from synchronizations.connectors.base import Artifact, Changes
from synchronizations.connectors.http import LONGEST_RETRY_AFTER, HttpConnector, retry_after_seconds
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PartlyCreated,
    PermanentError,
    RepositoryError,
    SyncError,
    TransientError,
)

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
MEDIA_TYPE = "application/vnd.github+json"
DEFAULT_PAGE_SIZE = 100  # GitHub's largest per_page
DEFAULT_OVERLAP_SECONDS = 10
MAX_OVERLAP_SECONDS = 3600
DEFAULT_WRITE_INTERVAL = 1.0
# GitHub's advice when a secondary rate limit gives no Retry-After: wait a minute.
SECONDARY_LIMIT_WAIT = 60.0
# Bytes of answers kept for conditional requests, per connector.
CACHE_BYTES = 4 * 1024 * 1024
# Passes over one crowded second (a page of issues all updated in it) before giving up.
MAX_PASSES = 20
# Pages one changed_since() call reads at most (each makes progress).
MAX_PAGES_PER_CALL = 10_000
# A cursor fits in the mapping's cursor column.
CURSOR_CHARS = 200
# Names looked up again at most this often (seconds) when one is missing.
RELOAD_SECONDS = 60.0

TITLE, BODY, STATE, STATE_REASON, STATUS, LABELS, ASSIGNEES, ASSIGNEE, MILESTONE = (
    "title", "body", "state", "state_reason", "status", "labels", "assignees", "assignee", "milestone",
)  # fmt: skip
FIELDS = (TITLE, BODY, STATE, STATE_REASON, STATUS, LABELS, ASSIGNEES, ASSIGNEE, MILESTONE)
STATES = ("open", "closed")
CLOSING_REASONS = ("completed", "not_planned", "duplicate")
REASONS = (*CLOSING_REASONS, "reopened")
STATUSES = ("open", *CLOSING_REASONS)
# The fields a refusal (422) names, in GitHub's words, as ours.
GITHUB_FIELDS = {
    "title": TITLE,
    "body": BODY,
    "state": STATE,
    "state_reason": STATE_REASON,
    "labels": LABELS,
    "assignees": ASSIGNEES,
    "assignee": ASSIGNEE,
    "milestone": MILESTONE,
}

_NAME = r"(?!\.\.?(?:/|#|$))[A-Za-z0-9_.-]{1,100}"
_SCOPE = re.compile(rf"^(?P<owner>{_NAME})/(?P<repo>{_NAME})$")
_KEY = re.compile(rf"^(?P<owner>{_NAME})/(?P<repo>{_NAME})#(?P<number>[1-9][0-9]{{0,11}})$")
_INSTANT = "%Y-%m-%dT%H:%M:%SZ"
_ENTRY = re.compile(r"^([1-9][0-9]{0,11})\.([0-9a-f]{6})$")
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="([^"]*)"')

_pauses: dict[tuple, float] = {}  # gate -> time.monotonic() when calls may go again
_last_writes: dict[tuple, float] = {}  # gate -> time.monotonic() of the last write
_gates_lock = threading.Lock()


@dataclass(frozen=True)
class Scope:
    """A mapping side's scope: one repository, ``owner``/``repo``."""

    owner: str
    repo: str

    @classmethod
    def parse(cls, text: str) -> "Scope":
        """``owner/repository``; PermanentError for anything else."""
        match = _SCOPE.match((text or "").strip())
        if not match:
            raise PermanentError(
                f"Scope {text!r} is not a GitHub scope: write owner/repository, e.g. octo-org/hello-world."
            )
        return cls(match["owner"], match["repo"])

    @property
    def path(self) -> str:
        """The repository's path in the API: ``/repos/owner/repo``."""
        return f"/repos/{self.owner}/{self.repo}"

    def same(self, other: "Scope") -> bool:
        """Whether ``other`` names the same repository (GitHub's names ignore case)."""
        return (self.owner.casefold(), self.repo.casefold()) == (other.owner.casefold(), other.repo.casefold())

    def __str__(self) -> str:
        return f"{self.owner}/{self.repo}"


def parse_key(key: str) -> tuple[Scope, int] | None:
    """(repository, issue number) of ``owner/repo#42``; None if ``key`` is not one."""
    match = _KEY.match((key or "").strip())
    return (Scope(match["owner"], match["repo"]), int(match["number"])) if match else None


def make_key(scope: Scope, number: int) -> str:
    """The key of issue ``number`` of ``scope``: ``owner/repo#42``, in lower case
    (GitHub's names ignore case): a scope spelled ``Octo/Web`` after ``octo/web``
    gives the same keys, so its issues are known, not taken as new again."""
    return f"{scope.owner.lower()}/{scope.repo.lower()}#{number}"


def web_base(base_url: str) -> str:
    """Where people see what the API at ``base_url`` serves: github.com for
    api.github.com, ``https://SUBDOMAIN.ghe.com`` for ``https://api.SUBDOMAIN.ghe.com``,
    ``https://HOST`` for a server's ``https://HOST/api/v3``, else ``base_url`` itself."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(base)
    host = (parts.hostname or "").lower()
    if host == "api.github.com" and parts.path in ("", "/"):
        return "https://github.com"
    if host.startswith("api.") and host.endswith(".ghe.com") and parts.path in ("", "/"):
        return f"{parts.scheme}://{parts.netloc[4:]}"
    if base.lower().endswith("/api/v3"):
        return base[: -len("/api/v3")]
    return base


def parse_time(text: str) -> datetime:
    """A GitHub timestamp ("2024-05-01T10:00:00Z"), aware."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_instant(moment: datetime) -> str:
    """``moment`` as GitHub writes times and takes ``since``: UTC, whole seconds."""
    return moment.astimezone(UTC).strftime(_INSTANT)


@dataclass(frozen=True)
class Cursor:
    """Where change detection continues: every change before the second ``since``
    has been returned (None: nothing yet), and ``seen`` maps issue numbers to the
    digest of the version returned last, for issues returned from that second on."""

    since: datetime | None = None
    seen: dict[int, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> "Cursor":
        """The cursor ``text`` spells; from the start for "" or anything that is not
        one of ours (returning an issue again is safe, missing one is not)."""
        instant, _, entries = (text or "").strip().partition("|")
        try:
            since = datetime.strptime(instant, _INSTANT).replace(tzinfo=UTC)
        except ValueError:
            return cls()
        seen = {}
        for entry in entries.split(",") if entries else []:
            match = _ENTRY.match(entry)
            if not match:
                return cls(since)
            seen[int(match[1])] = match[2]
        return cls(since, seen)

    def text(self) -> str:
        """The cursor as stored: as many entries as fit in CURSOR_CHARS."""
        if self.since is None:
            return ""
        text = format_instant(self.since)
        entries = [f"{number}.{short}" for number, short in sorted(self.seen.items())]
        if entries:
            room = CURSOR_CHARS - len(text) - 1
            kept, used = [], 0
            for entry in entries:
                if used + len(entry) + (1 if kept else 0) > room:
                    break
                used += len(entry) + (1 if kept else 0)
                kept.append(entry)
            if kept:
                text += "|" + ",".join(kept)
        return text


def digest(version: str) -> str:
    """The short digest of a version that a cursor keeps."""
    return hashlib.sha256(version.encode()).hexdigest()[:6]


def _text(value: Any) -> str:
    """A text as presented: None is "", line ends are ``\\n``."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _second(issue: dict) -> datetime:
    return parse_time(issue["updated_at"]).replace(microsecond=0)


def _message(response: httpx.Response) -> str:
    """GitHub's ``message`` of an error answer, "" when it has none."""
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("message") or "") if isinstance(body, dict) else ""


def _server_time(headers: httpx.Headers) -> datetime | None:
    try:
        moment = parsedate_to_datetime(headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _NotModified(Exception):
    """A 304: the copy kept for the conditional request is current."""

    def __init__(self, response: httpx.Response):
        super().__init__("304 Not Modified")
        self.response = response


@dataclass
class _Kept:
    etag: str
    content: bytes
    link: str


class _ConditionalCache:
    """Answers kept for conditional GETs: URL -> ETag, body and Link header, least
    recently used first out once they pass ``max_bytes``."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self.items: OrderedDict[str, _Kept] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, url: str) -> _Kept | None:
        """The answer kept for ``url``, None if none is."""
        with self.lock:
            kept = self.items.get(url)
            if kept is not None:
                self.items.move_to_end(url)
            return kept

    def put(self, url: str, kept: _Kept) -> None:
        """Keeps ``kept`` for ``url``, dropping the least recently used past ``max_bytes``."""
        with self.lock:
            old = self.items.pop(url, None)
            if old is not None:
                self.bytes -= len(old.content)
            if len(kept.content) > self.max_bytes:
                return
            self.items[url] = kept
            self.bytes += len(kept.content)
            while self.bytes > self.max_bytes:
                _, dropped = self.items.popitem(last=False)
                self.bytes -= len(dropped.content)


@dataclass
class _Page:
    data: Any
    link: str
    server_now: datetime | None

    def next_url(self) -> str | None:
        """The ``rel="next"`` URL of the Link header, None on the last page."""
        for url, rel in _LINK.findall(self.link or ""):
            if rel == "next":
                return url
        return None


class _Names:
    """The names of one kind of thing in one repository (labels, assignees,
    milestones): ``load()`` gives (name, value) pairs; names compare as GitHub
    compares them (``fold``). Read on first use, and again when a name is missing,
    at most once every RELOAD_SECONDS."""

    def __init__(self, load: Callable[[], Iterable[tuple[str, Any]]], fold: Callable[[str], str] = str.casefold):
        self._load = load
        self._fold = fold
        self._values: dict[str, tuple[str, Any]] | None = None
        self._loaded_at = 0.0

    def find(self, name: str) -> tuple[str, Any] | None:
        """(the name as the repository spells it, its value), or None."""
        if self._values is None:
            self._fill()
        found = self._values.get(self._fold(name))
        if found is None and time.monotonic() - self._loaded_at >= RELOAD_SECONDS:
            self._fill()
            found = self._values.get(self._fold(name))
        return found

    def names(self) -> list[str]:
        """Every name, sorted, as the repository spells them."""
        if self._values is None:
            self._fill()
        return sorted(name for name, _ in self._values.values())

    def _fill(self) -> None:
        self._values = {self._fold(name): (name, value) for name, value in self._load()}
        self._loaded_at = time.monotonic()


class _ChangeReader:
    """One changed_since() read of a repository's issues from ``since`` on, by
    keyset (see the module's documentation): ``issues`` is each issue read, at its
    newest; ``complete`` whether the list was read to its end; ``server_now`` the
    server's clock at the first answer. Stops early once more than ``limit`` new
    issues (not in ``known``) are read and they span more than one second."""

    def __init__(self, connector: "GitHubConnector", scope: Scope, since: datetime | None, known: dict, limit: int):
        self.connector = connector
        self.scope = scope
        self.since = since
        self.known = known
        self.limit = limit
        self.issues: dict[int, dict] = {}
        self.complete = False
        self.server_now: datetime | None = None
        self.pages = 0

    def read(self) -> None:
        """Reads from ``since`` to the end of the list, or until enough is read (see the class)."""
        since = self.since
        while True:
            page = self._page(since, 1)
            items = page.data
            if len(items) < self.connector.page_size:
                self.complete = True
                return
            # The page's first and last seconds (as GitHub sorts them; min and max, so
            # that a page out of order still moves the keyset forward).
            first, last = min(_second(item) for item in items), max(_second(item) for item in items)
            if last == first:
                # A whole page in one second: read that second to its end by page number.
                if self._read_crowded(first):
                    self.complete = True
                    return
                since = first + timedelta(seconds=1)
            else:
                since = last  # its issues are read again: `since` includes its second
            if self._enough():
                return

    def _read_crowded(self, second: datetime) -> bool:
        """Reads every issue of ``second`` (page after page, ``since`` at it). When
        the second is over (before the settled bound), an issue edited during a pass
        leaves it and shifts the pages, which may hide another: the second is read
        again until a pass finds nothing new. (A second not over yet is read again
        by the next call: the cursor does not pass it.) Returns whether the list
        ended within the second."""
        settled = self.connector.settled(self.server_now)
        over = settled is not None and second < settled
        before: set[int] | None = None
        for _ in range(MAX_PASSES):
            found, ended = self._pass(second)
            if not over or (before is not None and found <= before):
                return ended
            before = found if before is None else before | found
        raise TransientError(
            f"'{self.connector.repository.name}': the issues of {self.scope} kept changing while they were read "
            f"({MAX_PASSES} passes over one second)"
        )

    def _pass(self, second: datetime) -> tuple[set[int], bool]:
        """One pass over the issues of ``second``: their numbers, and whether the
        list ended there."""
        found: set[int] = set()
        number = 1
        while True:
            page = self._page(second, number)
            found |= {item["number"] for item in page.data if _second(item) == second}
            if len(page.data) < self.connector.page_size:
                return found, True
            if any(_second(item) > second for item in page.data):
                return found, False
            number += 1

    def _page(self, since: datetime | None, number: int) -> _Page:
        self.pages += 1
        if self.pages > MAX_PAGES_PER_CALL:
            raise PermanentError(
                f"'{self.connector.repository.name}' kept paging the issues of {self.scope} past "
                f"{MAX_PAGES_PER_CALL} pages"
            )
        params: dict[str, Any] = {
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "per_page": self.connector.page_size,
        }
        if since is not None:
            params["since"] = format_instant(since)
        if number > 1:
            params["page"] = number
        page = self.connector.get_page(f"{self.scope.path}/issues", params, scope=self.scope)
        if self.server_now is None:
            self.server_now = page.server_now
        if not isinstance(page.data, list):
            raise PermanentError(f"'{self.connector.repository.name}' answered the issue list with no list")
        for item in page.data:
            known = self.issues.get(item["number"])
            if known is None or parse_time(item["updated_at"]) >= parse_time(known["updated_at"]):
                self.issues[item["number"]] = item
        return page

    def _enough(self) -> bool:
        fresh = [
            issue
            for issue in self.issues.values()
            if "pull_request" not in issue and self.connector.is_new(issue, self.known)
        ]
        if len(fresh) <= self.limit:
            return False
        seconds = {_second(issue) for issue in fresh}
        return len(seconds) > 1


class GitHubConnector(HttpConnector):
    """Issues of GitHub repositories, by name (see the module's documentation for
    the scope, key, fields, version, cursor and rate limits). Every method raises
    the engine's errors; names that resolve to nothing are FieldRefused, raised
    before anything is written."""

    kind = "github"

    def __init__(self, repository):
        super().__init__(repository)
        self.base_url = (repository.base_url or DEFAULT_BASE_URL).strip().rstrip("/")
        self.web = web_base(self.base_url)
        self.overlap = timedelta(
            seconds=self._setting("overlap_seconds", DEFAULT_OVERLAP_SECONDS, 0, MAX_OVERLAP_SECONDS)
        )
        self.page_size = int(self._setting("page_size", DEFAULT_PAGE_SIZE, 1, 100))
        self.write_interval = float(self._setting("write_interval", DEFAULT_WRITE_INTERVAL, 0, 60, number=True))
        self.cache = _ConditionalCache()
        self._labels: dict[tuple[str, str], _Names] = {}
        self._assignees: dict[tuple[str, str], _Names] = {}
        self._milestones: dict[tuple[str, str], _Names] = {}
        self._visible: dict[tuple[str, str], tuple[float, bool]] = {}

    # --- what HttpConnector asks of us -------------------------------------------------

    def headers(self) -> dict[str, str]:
        token = self.repository.secret_value().strip()
        if not token:
            raise RepositoryError(
                f"Repository '{self.repository.name}' has no token: enter a GitHub personal access token as its "
                "secret in the admin",
                repository_id=self.repository.pk,
            )
        return {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE, "X-GitHub-Api-Version": API_VERSION}

    def refused_field(self, response: httpx.Response) -> tuple[str, str]:
        """The field GitHub's ``errors`` name ({resource, field, code[, message]}),
        in our words; what it said: its message and each error."""
        try:
            body = response.json()
        except ValueError:
            return "", response.text[:300]
        if not isinstance(body, dict):
            return "", response.text[:300]
        said = [str(body.get("message") or "").strip()]
        found = ""
        for error in body.get("errors") or []:
            if isinstance(error, dict):
                name = str(error.get("field") or "")
                found = found or GITHUB_FIELDS.get(name, name)
                words = error.get("message") or " ".join(
                    str(part) for part in (error.get("resource"), name, error.get("code")) if part
                )
                if "value" in error:
                    words = f"{words} ({error['value']!r})"
                said.append(str(words))
            else:
                said.append(str(error))
        if not found:  # "Invalid request.\n\n\"title\" wasn't supplied."
            match = re.search(r'"(\w+)" wasn\'t supplied', said[0])
            found = GITHUB_FIELDS.get(match[1], match[1]) if match else ""
        return found, "; ".join(part.replace("\n", " ") for part in said if part)

    def forbidden(self, response: httpx.Response, key: str | None, detail: str) -> Exception:
        """A 403 that is no rate limit, about an issue or a repository, is a
        permission the token lacks there (a fine-grained token not given that
        repository, or *Issues* read-only): that issue's or scope's PermanentError,
        not a pause of the whole repository, whose other scopes may be fine (and
        whose health check would pass: reading the user needs no permission). A 403
        about neither pauses the repository."""
        if key:
            said = _message(response)
            return PermanentError(
                f"'{self.repository.name}' denied us access to {key} (HTTP 403{': ' + said if said else ''}): the "
                "token lacks a permission there (Issues: read and write, for that repository)",
                detail,
            )
        return super().forbidden(response, key, detail)

    def error_for(self, response: httpx.Response, key: str | None = None) -> Exception:
        """As HttpConnector's, plus GitHub's meanings: 304 (the kept copy is current),
        rate limits (403 or 429 saying so), 410 and 301 on an issue."""
        status = response.status_code
        name = self.repository.name
        if status == 304:
            return _NotModified(response)
        detail = self._blot(f"{response.request.method} {response.request.url.path} -> HTTP {status}\n{response.text}")
        if status in (403, 429):
            wait, which = self._rate_limit_wait(response)
            if wait is not None:
                self._pause(wait)
                return TransientError(
                    f"'{name}' is rate limiting us (HTTP {status}, {which}): not calling it again for {wait:.0f} s",
                    detail[:2000],
                    retry_after=wait,
                )
        if status == 410 and key:
            message = _message(response)
            if "disabled" in message.lower():
                return PermanentError(f"'{name}': {message or 'issues are disabled'} ({key})", detail[:2000])
            return ArtifactDeleted(key, name, detail[:2000])
        if status == 301:
            where = response.headers.get("Location", "")
            if key and parse_key(key):
                return ArtifactDeleted(
                    key,
                    name,
                    f"It was transferred to another repository ({where or 'not said where'}).\n{detail}"[:2000],
                )
            return PermanentError(
                f"'{name}' answered that {response.request.url.path} moved (HTTP 301): the repository was renamed "
                "or transferred; write its new owner/name as the mapping's scope",
                f"Location: {where}\n{detail}"[:2000],
            )
        return super().error_for(response, key)

    # --- requests: rate limits, spacing, conditional GETs --------------------------------

    def request(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """HttpConnector.request(), honouring a rate-limit pause (nothing is sent
        before it ends) and spacing writes by ``write_interval``."""
        self._honour_pause()
        if method not in ("GET", "HEAD"):
            self._space_writes()
        try:
            response = super().request(method, path, key=key, **kwargs)
        except _NotModified as answer:
            self._note_quota(answer.response)
            raise
        self._note_quota(response)
        return response

    def get_page(self, path: str, params: dict | None = None, *, key: str | None = None, scope: Scope | None = None):
        """A conditional GET of ``path``: the answer, or the copy kept when GitHub
        answers 304. A 404 on a list of ``scope`` is a PermanentError naming it."""
        params = dict(params or {})
        if scope is not None and key is None:
            key = f"repository {scope}"  # a 404 names the repository, not an issue
        url = f"{path}?{urlencode(sorted(params.items()))}"
        kept = self.cache.get(url)
        headers = {"If-None-Match": kept.etag} if kept else {}
        try:
            response = self.request("GET", path, key=key, params=params, headers=headers)
        except _NotModified as answer:
            if kept is None:
                raise PermanentError(
                    f"'{self.repository.name}' answered 304 to a request that asked for none"
                ) from None
            return _Page(json.loads(kept.content), kept.link, _server_time(answer.response.headers))
        except ArtifactDeleted as exc:
            if scope is not None and parse_key(exc.key) is None:
                raise self._scope_missing(scope, exc.detail) from None
            raise
        etag = response.headers.get("ETag")
        if etag:
            self.cache.put(url, _Kept(etag, response.content, response.headers.get("Link", "")))
        try:
            data = response.json()
        except ValueError:
            raise PermanentError(
                f"'{self.repository.name}' answered {path} with something that is not JSON", response.text[:300]
            ) from None
        return _Page(data, response.headers.get("Link", ""), _server_time(response.headers))

    def _pages(self, path: str, params: dict, scope: Scope) -> Iterable[Any]:
        """Every item of a list, following its ``Link: rel="next"``."""
        page = self.get_page(path, {**params, "per_page": 100}, scope=scope)
        for _ in range(MAX_PAGES_PER_CALL):
            yield from page.data
            following = page.next_url()
            if not following:
                return
            parts = urlsplit(following)
            query = dict(httpx.QueryParams(parts.query))
            page = self.get_page(path, query, scope=scope)
        raise PermanentError(f"'{self.repository.name}' kept paging {path} past {MAX_PAGES_PER_CALL} pages")

    def _gate(self) -> tuple:
        token = self.repository.secret_value()
        return (self.repository.pk, self.base_url, hashlib.sha256(token.encode()).hexdigest()[:16])

    def _honour_pause(self) -> None:
        with _gates_lock:
            until = _pauses.get(self._gate())
        wait = (until or 0.0) - time.monotonic()
        if until is not None and wait > 0:
            error = TransientError(
                f"'{self.repository.name}' is rate limiting us: waiting {wait:.0f} s more before calling it again",
                retry_after=wait,
            )
            error.repository_id = self.repository.pk
            raise error

    def _pause(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        with _gates_lock:
            gate = self._gate()
            _pauses[gate] = max(_pauses.get(gate, 0.0), until)

    def _space_writes(self) -> None:
        if self.write_interval <= 0:
            return
        gate = self._gate()
        with _gates_lock:
            last = _last_writes.get(gate)
            now = time.monotonic()
            wait = 0.0 if last is None else last + self.write_interval - now
            _last_writes[gate] = now + max(wait, 0.0)
        if wait > 0:
            time.sleep(wait)

    def _note_quota(self, response: httpx.Response) -> None:
        """A success that used the last request of the primary rate limit pauses
        calls until its reset."""
        if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
            wait = self._until_reset(response)
            if wait:
                self._pause(wait)

    @staticmethod
    def _until_reset(response: httpx.Response) -> float | None:
        reset = response.headers.get("x-ratelimit-reset", "").strip()
        if not reset.isdigit():
            return None
        now = _server_time(response.headers) or datetime.now(UTC)
        seconds = int(reset) - now.timestamp()
        return min(max(seconds, 0.0), LONGEST_RETRY_AFTER)

    def _rate_limit_wait(self, response: httpx.Response) -> tuple[float | None, str]:
        """(seconds to wait, which limit) when a 403 or 429 is a rate limit, as
        GitHub's documentation says to tell them; (None, "") when it is not one."""
        retry = retry_after_seconds(response.headers.get("Retry-After"))
        if retry is not None:
            return retry, "secondary rate limit"
        if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
            wait = self._until_reset(response)
            return (wait if wait is not None else SECONDARY_LIMIT_WAIT), "primary rate limit"
        message = _message(response).lower()
        if "secondary rate limit" in message or "abuse" in message or response.status_code == 429:
            return SECONDARY_LIMIT_WAIT, "secondary rate limit"
        if "rate limit" in message:
            return SECONDARY_LIMIT_WAIT, "rate limit"
        return None, ""

    # --- the interface -----------------------------------------------------------------

    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        target = Scope.parse(scope)
        position = Cursor.parse(cursor)
        reader = _ChangeReader(self, target, position.since, position.seen, max(1, int(limit)))
        reader.read()
        read = sorted(reader.issues.values(), key=lambda issue: (parse_time(issue["updated_at"]), issue["number"]))
        issues = [issue for issue in read if "pull_request" not in issue]
        fresh = [issue for issue in issues if self.is_new(issue, position.seen)]
        if not fresh and reader.pages <= 1:
            # Nothing new: the same cursor, so that the next call asks the same (a 304).
            return Changes([], cursor)
        chosen, following = _whole_seconds(fresh, reader.limit, reader.complete)
        clock = reader.server_now or (_second(read[-1]) if read else None)
        settled = self.settled(clock)
        moment = _next_instant(position.since, following, settled)
        # Handled: what was returned now and what was already returned unchanged.
        handled = {issue["number"]: issue for issue in issues if not self.is_new(issue, position.seen)}
        handled.update({issue["number"]: issue for issue in chosen})
        seen = {}
        if moment is not None:
            seen = {
                number: digest(self._version(issue)) for number, issue in handled.items() if _second(issue) >= moment
            }
        text = Cursor(moment, seen).text()
        return Changes([self._artifact(target, issue) for issue in chosen], text)

    def settled(self, clock: datetime | None) -> datetime | None:
        """The first second that may still receive changes: ``overlap`` before
        ``clock`` (None when unknown)."""
        return (clock - self.overlap).replace(microsecond=0) if clock else None

    def is_new(self, issue: dict, known: dict[int, str]) -> bool:
        """Whether ``issue`` was not already returned at this version (``known``:
        the cursor's entries)."""
        return known.get(issue["number"]) != digest(self._version(issue))

    def get(self, key: str) -> Artifact:
        target, _, issue = self._read(key)
        return self._artifact(target, issue)

    def get_many(self, keys: list[str]) -> dict:
        """One list call per repository (its most recently updated issues, where
        the issues a job reads usually are), then get() for each key it did not
        hold."""
        results: dict[str, Any] = {}
        wanted: dict[tuple[str, str], list[tuple[str, Scope, int]]] = {}
        for key in keys:
            parsed = parse_key(key)
            if parsed is None:
                results[key] = self._not_a_key(key)
                continue
            target, number = parsed
            wanted.setdefault((target.owner.casefold(), target.repo.casefold()), []).append((key, target, number))
        for group in wanted.values():
            if len(group) < 2:
                continue
            target = group[0][1]
            params = {"state": "all", "sort": "updated", "direction": "desc", "per_page": self.page_size}
            try:
                page = self.get_page(f"{target.path}/issues", params, scope=target)
            except SyncError:
                continue  # each key is read alone, and fails alone
            if not isinstance(page.data, list):
                continue
            listed = {item["number"]: item for item in page.data if isinstance(item, dict)}
            for key, scope, number in group:
                issue = listed.get(number)
                if issue is None:
                    continue
                if "pull_request" in issue:
                    results[key] = self._pull_request(key)
                else:
                    results[key] = self._artifact(scope, issue)
        rest = [key for key in keys if key not in results]
        results.update(super().get_many(rest))
        return {key: results[key] for key in keys}

    def create(self, scope: str, fields: dict) -> Artifact:
        target = Scope.parse(scope)
        self._check_fields(fields)
        state, reason = self._wanted_state(fields)
        payload = self._payload(target, fields, creating=True)
        if not str(payload.get("title") or "").strip():
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field 'title': GitHub issues need a title",
                field=TITLE,
            )
        try:
            answer = self.request("POST", f"{target.path}/issues", key=f"repository {target}", json=payload).json()
        except ArtifactDeleted as exc:
            raise self._scope_missing(target, exc.detail) from None
        created = self._artifact(target, answer)
        if state == "closed":
            # GitHub creates issues open: close it as asked. The issue exists now: a
            # failure is a PartlyCreated, so that the engine links the issue (never
            # creating it again) and writes the state again as an update.
            try:
                answer = self._patch(
                    target, answer["number"], {"state": "closed", "state_reason": reason or "completed"}
                )
            except SyncError as exc:
                raise PartlyCreated(
                    created, exc, [name for name in (STATE, STATE_REASON, STATUS) if name in fields]
                ) from exc
            created = self._artifact(target, answer)
        try:
            self._check_written(created.key, answer, fields)
        except FieldRefused as exc:  # dropped without a word (no push access): said, and tried again
            raise PartlyCreated(created, exc, [exc.field]) from exc
        return created

    def update(self, key: str, fields: dict, version: str) -> Artifact:
        target, number, current = self._read(key)
        now = self._version(current)
        if now != version:
            raise ConflictError(
                f"{key} changed in '{self.repository.name}' since it was read",
                f"version read: {version}; version now: {now}",
            )
        self._check_fields(fields)
        payload = self._payload(target, fields, creating=False)
        payload = self._changes(current, payload)
        if not payload:
            return self._artifact(target, current)  # nothing to change: no write, no event
        reason = payload.get("state_reason")
        if current["state"] == "closed" and payload.get("state") == "closed" and reason:
            # GitHub takes a reason only with a change of state: reopen, then close.
            self._patch(target, number, {"state": "open"}, key=key)
        written = self._patch(target, number, payload, key=key)
        self._check_written(key, written, fields)
        return self._artifact(target, written)

    def url(self, key: str) -> str:
        parsed = parse_key(key)
        if parsed is None:
            return ""
        target, number = parsed
        return f"{self.web}/{target.owner}/{target.repo}/issues/{number}"

    def ping(self) -> None:
        self.get_page("/user")

    parse_scope = staticmethod(Scope.parse)

    @staticmethod
    def scopes_overlap(a: str, b: str) -> bool:
        """The same repository (names compared ignoring case); a text that is no
        scope overlaps only the same text."""
        try:
            first, second = Scope.parse(a), Scope.parse(b)
        except PermanentError:
            return a.strip() == b.strip()
        return first.same(second)

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """Problems of a mapping side: the scope's form, the repository (exists,
        is visible to the token, has issues enabled, lets the token's user set
        labels, assignees and milestones), and each field's name."""
        self.ping()
        try:
            target = Scope.parse(scope)
        except PermanentError as exc:
            return [exc.message]
        try:
            repository = self.get_page(target.path, key=f"repository {target}").data
        except ArtifactDeleted as exc:
            return [self._scope_missing(target, exc.detail).message]
        except PermanentError as exc:
            return [exc.message]
        problems = []
        if not repository.get("has_issues", True):
            problems.append(f"Scope '{scope}': repository {target} has issues disabled.")
        permissions = repository.get("permissions") or {}
        needs_push = sorted({LABELS, ASSIGNEES, ASSIGNEE, MILESTONE} & set(fields))
        if permissions and needs_push and not (permissions.get("push") or permissions.get("admin")):
            problems.append(
                f"Scope '{scope}': the token's user has no push access to {target}, so GitHub would silently drop "
                f"what syncweb writes to {', '.join(needs_push)}."
            )
        for name in fields:
            if name not in FIELDS:
                problems.append(f"Scope '{scope}': there is no field {name!r}; GitHub fields are {', '.join(FIELDS)}.")
        return problems

    # --- reading -----------------------------------------------------------------------

    def _read(self, key: str) -> tuple[Scope, int, dict]:
        """(repository, number, the issue) of ``key``; ArtifactDeleted when it is
        gone or a pull request."""
        parsed = parse_key(key)
        if parsed is None:
            raise self._not_a_key(key)
        target, number = parsed
        try:
            issue = self.get_page(f"{target.path}/issues/{number}", key=key).data
        except ArtifactDeleted as exc:
            if exc.key == key and not self._repository_visible(target):
                raise self._scope_missing(target, exc.detail) from None
            raise
        if "pull_request" in issue:
            raise self._pull_request(key)
        return target, number, issue

    def _repository_visible(self, target: Scope) -> bool:
        """Whether the token still sees the repository (a 404 on an issue is then
        the issue's); remembered for a minute."""
        name = (target.owner.casefold(), target.repo.casefold())
        known = self._visible.get(name)
        if known is not None and time.monotonic() - known[0] < RELOAD_SECONDS:
            return known[1]
        try:
            self.get_page(target.path, key=f"repository {target}")
            visible = True
        except ArtifactDeleted:
            visible = False
        self._visible[name] = (time.monotonic(), visible)
        return visible

    def _artifact(self, target: Scope, issue: dict) -> Artifact:
        key = make_key(target, issue["number"])
        return Artifact(key, self._fields(issue), self._version(issue), self.url(key), parse_time(issue["updated_at"]))

    @staticmethod
    def _fields(issue: dict) -> dict:
        state = issue.get("state") or "open"
        reason = issue.get("state_reason") or ""
        # A closed issue without a reason (closed before GitHub kept them) shows as completed.
        status = "open" if state == "open" else (reason if reason in ("not_planned", "duplicate") else "completed")
        labels = [label if isinstance(label, str) else label.get("name", "") for label in issue.get("labels") or []]
        assignees = [user["login"] for user in issue.get("assignees") or [] if user]
        if not assignees and issue.get("assignee"):
            assignees = [issue["assignee"]["login"]]
        return {
            TITLE: issue.get("title") or "",
            BODY: _text(issue.get("body")),
            STATE: state,
            STATE_REASON: reason,
            STATUS: status,
            LABELS: sorted(labels, key=str.casefold),
            ASSIGNEES: sorted(assignees, key=str.casefold),
            ASSIGNEE: (issue.get("assignee") or {}).get("login") or (assignees[0] if assignees else ""),
            MILESTONE: (issue.get("milestone") or {}).get("title") or "",
        }

    def _version(self, issue: dict) -> str:
        fields = json.dumps(self._fields(issue), sort_keys=True, separators=(",", ":"))
        second = format_instant(parse_time(issue["updated_at"]))
        return f"{second}/{hashlib.sha256(f'{second}|{fields}'.encode()).hexdigest()[:12]}"

    # --- writing -----------------------------------------------------------------------

    def _check_fields(self, fields: dict) -> None:
        for name in fields:
            if name not in FIELDS:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field '{name}': no such field here "
                    f"(fields: {', '.join(FIELDS)})",
                    field=name,
                )

    def _refuse(self, name: str, value: Any, why: str, detail: str = "") -> FieldRefused:
        return FieldRefused(f"'{self.repository.name}' refused the value of field '{name}': {why}", detail, field=name)

    def _wanted_state(self, fields: dict) -> tuple[str | None, str | None]:
        """(state, state reason) the fields ask for, None where they say nothing.
        FieldRefused for a value GitHub does not have, or fields that disagree."""
        state = reason = None
        said_by: dict[str, str] = {}

        def want(name: str, new_state: str, new_reason: str | None) -> None:
            nonlocal state, reason
            if state is not None and state != new_state:
                raise self._refuse(
                    name,
                    fields[name],
                    f"{fields[name]!r} disagrees with {said_by['state']} {fields[said_by['state']]!r}",
                )
            state = new_state
            said_by.setdefault("state", name)
            if new_reason is not None:
                if reason is not None and reason != new_reason:
                    raise self._refuse(
                        name,
                        fields[name],
                        f"{fields[name]!r} disagrees with {said_by['reason']} {fields[said_by['reason']]!r}",
                    )
                reason = new_reason
                said_by.setdefault("reason", name)

        if STATE in fields:
            value = _text(fields[STATE]).strip().lower()
            if value not in STATES:
                raise self._refuse(STATE, fields[STATE], f"{fields[STATE]!r} is not a state (open or closed)")
            want(STATE, value, None)
        if STATE_REASON in fields and fields[STATE_REASON] not in (None, ""):
            value = _text(fields[STATE_REASON]).strip().lower()
            if value not in REASONS:
                raise self._refuse(
                    STATE_REASON,
                    fields[STATE_REASON],
                    f"{fields[STATE_REASON]!r} is not a state reason ({', '.join(REASONS)})",
                )
            want(STATE_REASON, "open" if value == "reopened" else "closed", value if value != "reopened" else None)
        if STATUS in fields:
            value = _text(fields[STATUS]).strip().lower()
            if value not in STATUSES:
                raise self._refuse(
                    STATUS, fields[STATUS], f"{fields[STATUS]!r} is not a status ({', '.join(STATUSES)})"
                )
            want(STATUS, "open" if value == "open" else "closed", None if value == "open" else value)
        return state, reason

    def _payload(self, target: Scope, fields: dict, *, creating: bool) -> dict:
        """GitHub's request body for ``fields``: names checked against the
        repository, FieldRefused for one that does not exist."""
        payload: dict[str, Any] = {}
        if TITLE in fields:
            payload["title"] = _text(fields[TITLE])
        if BODY in fields:
            payload["body"] = _text(fields[BODY])
        state, reason = self._wanted_state(fields)
        if state is not None and not creating:
            payload["state"] = state
            if state == "closed" and reason:
                payload["state_reason"] = reason
        if LABELS in fields:
            payload["labels"] = _unique(self._label(target, name) for name in _names(fields[LABELS]))
        if ASSIGNEES in fields and ASSIGNEE in fields:
            first = _names(fields[ASSIGNEE])
            if first and first[0].casefold() not in {name.casefold() for name in _names(fields[ASSIGNEES])}:
                raise self._refuse(
                    ASSIGNEE, fields[ASSIGNEE], f"{fields[ASSIGNEE]!r} is not one of the assignees written"
                )
        if ASSIGNEES in fields:
            payload["assignees"] = _unique(
                self._assignee(target, ASSIGNEES, login) for login in _names(fields[ASSIGNEES])
            )
        elif ASSIGNEE in fields:
            payload["assignees"] = [self._assignee(target, ASSIGNEE, login) for login in _names(fields[ASSIGNEE])[:1]]
        if MILESTONE in fields:
            title = _text(fields[MILESTONE]).strip()
            payload["milestone"] = self._milestone(target, title) if title else None
            if creating and payload["milestone"] is None:
                del payload["milestone"]
        return payload

    @staticmethod
    def _changes(current: dict, payload: dict) -> dict:
        """What of ``payload`` changes ``current`` (nothing to write: {})."""
        now = GitHubConnector._fields(current)
        changes = {}
        for name, value in payload.items():
            if name == "title" and value == now[TITLE]:
                continue
            if name == "body" and value == now[BODY]:
                continue
            if name in ("labels", "assignees") and {v.casefold() for v in value} == {v.casefold() for v in now[name]}:
                continue
            if name == "milestone" and value == ((current.get("milestone") or {}).get("number")):
                continue
            changes[name] = value
        if changes.get("state") == current["state"] and (
            "state_reason" not in changes or changes["state_reason"] == (current.get("state_reason") or "completed")
        ):
            changes.pop("state")
            changes.pop("state_reason", None)
        elif "state_reason" in changes and changes.get("state") != "closed":
            changes.pop("state_reason")
        return changes

    def _patch(self, target: Scope, number: int, payload: dict, key: str | None = None) -> dict:
        key = key or make_key(target, number)
        return self.request("PATCH", f"{target.path}/issues/{number}", key=key, json=payload).json()

    def _check_written(self, key: str, written: dict, fields: dict) -> None:
        """FieldRefused for a field the answer does not show as written (GitHub drops
        labels, assignees and milestones without a word when the token's user may
        not set them)."""
        now = self._fields(written)
        for name, value in fields.items():
            if name in (LABELS, ASSIGNEES):
                expected, shown = {n.casefold() for n in _names(value)}, {n.casefold() for n in now[name]}
            elif name == ASSIGNEE:
                expected, shown = "".join(_names(value)[:1]).casefold(), now[ASSIGNEE].casefold()
            elif name in (STATE, STATUS, MILESTONE):
                expected, shown = _text(value).strip(), now[name]
                if name != MILESTONE:
                    expected = expected.lower()
            elif name == STATE_REASON:
                reason = _text(value).strip().lower()
                if reason in CLOSING_REASONS:
                    expected, shown = reason, now[STATE_REASON]
                elif reason == "reopened":
                    expected, shown = "open", now[STATE]
                else:
                    continue
            else:
                continue  # title and body: GitHub refuses out loud (422)
            if expected != shown:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field '{name}': {key} kept {now[name]!r} instead "
                    f"of {value!r} (GitHub drops labels, assignees and milestones set by a user without push access)",
                    field=name,
                )

    def _label(self, target: Scope, name: str) -> str:
        names = self._labels.get(self._repo_key(target))
        if names is None:
            names = self._labels[self._repo_key(target)] = _Names(
                lambda: ((label["name"], label["name"]) for label in self._pages(f"{target.path}/labels", {}, target))
            )
        found = names.find(name)
        if found is None:
            raise self._refuse(
                LABELS,
                name,
                f"repository {target} has no label {name!r}",
                f"Its labels: {', '.join(names.names()) or 'none'}. Create the label in GitHub, or map the value.",
            )
        return found[0]

    def _assignee(self, target: Scope, field_name: str, login: str) -> str:
        logins = self._assignees.get(self._repo_key(target))
        if logins is None:
            logins = self._assignees[self._repo_key(target)] = _Names(
                lambda: ((user["login"], user["login"]) for user in self._pages(f"{target.path}/assignees", {}, target))
            )
        found = logins.find(login)
        if found is None:
            raise self._refuse(
                field_name,
                login,
                f"no user with the login {login!r} can be assigned issues in {target}",
                f"Users who can be: {', '.join(logins.names()) or 'none'}.",
            )
        return found[0]

    def _milestone(self, target: Scope, title: str) -> int:
        milestones = self._milestones.get(self._repo_key(target))
        if milestones is None:
            milestones = self._milestones[self._repo_key(target)] = _Names(
                lambda: (
                    (milestone["title"], milestone["number"])
                    for milestone in self._pages(f"{target.path}/milestones", {"state": "all"}, target)
                ),
                fold=str,  # milestone titles are compared as written
            )
        found = milestones.find(title)
        if found is None:
            raise self._refuse(
                MILESTONE,
                title,
                f"repository {target} has no milestone {title!r}",
                f"Its milestones: {', '.join(milestones.names()) or 'none'}.",
            )
        return found[1]

    @staticmethod
    def _repo_key(target: Scope) -> tuple[str, str]:
        return (target.owner.casefold(), target.repo.casefold())

    # --- errors ------------------------------------------------------------------------

    def _scope_missing(self, target: Scope, detail: str = "") -> PermanentError:
        return PermanentError(
            f"Scope '{target}': there is no repository {target} in '{self.repository.name}' (or the token cannot "
            "see it: check the token's repository access)",
            detail,
        )

    def _not_a_key(self, key: str) -> ArtifactDeleted:
        return ArtifactDeleted(key, self.repository.name, "GitHub keys are owner/repository#number: octo/web#42")

    def _pull_request(self, key: str) -> ArtifactDeleted:
        return ArtifactDeleted(
            key,
            self.repository.name,
            f"{key} is a pull request, not an issue: syncweb syncs issues only and never writes to a pull request. "
            "Recreate the issue from the other side, or Unlink the pair.",
        )

    def _setting(self, name: str, default: float, lowest: float, highest: float, number: bool = False) -> float:
        value = self.settings.get(name, default)
        kinds = (int, float) if number else (int,)
        if isinstance(value, bool) or not isinstance(value, kinds) or not lowest <= value <= highest:
            what = "a number of seconds" if number else "a whole number"
            raise PermanentError(
                f"Repository '{self.repository.name}': setting {name} must be {what} from {lowest:g} to "
                f"{highest:g}, not {value!r}"
            )
        return value


def _names(value: Any) -> list[str]:
    """A list field's names: a list as it is, one text as one name, "" and None as none."""
    items = value if isinstance(value, list) else [value]
    return [str(item).strip() for item in items if item not in (None, "") and str(item).strip()]


def _unique(names: Iterable[str]) -> list[str]:
    """``names`` without repeats (GitHub's names ignore case), in order."""
    unique: dict[str, str] = {}
    for name in names:
        unique.setdefault(name.casefold(), name)
    return list(unique.values())


def _whole_seconds(issues: list[dict], limit: int, complete: bool) -> tuple[list[dict], datetime | None]:
    """The issues to return (sorted by change): whole seconds, at most ``limit``
    unless the first second alone holds more; and the second the next read
    continues from (None when every issue was returned)."""
    if not issues:
        return [], None
    if len(issues) <= limit and complete:
        return issues, None
    seconds = [_second(issue) for issue in issues]
    if len(issues) > limit:
        cut = seconds[limit]
        chosen = [issue for issue, second in zip(issues, seconds, strict=True) if second < cut]
        if chosen:
            return chosen, cut
    first = seconds[0]
    chosen = [issue for issue, second in zip(issues, seconds, strict=True) if second == first]
    following = next((second for second in seconds if second > first), None)
    if following is None and not complete:
        following = first + timedelta(seconds=1)
    return chosen, following


def _next_instant(since: datetime | None, following: datetime | None, settled: datetime | None) -> datetime | None:
    """Where the next read starts: the first second not returned (``following``;
    None when all was), but never past the ``settled`` seconds (None: unknown) nor
    back before ``since``."""
    moments = [moment for moment in (following, settled) if moment is not None]
    moment = min(moments) if moments else since
    if since is not None and (moment is None or moment < since):
        return since
    return moment
