"""The GitLab connector: issues of GitLab projects over the REST API v4 (JSON),
authenticated with an access token sent as ``PRIVATE-TOKEN``. Built on HttpConnector,
which maps every HTTP failure to the engine's errors. Verified against a fake of
GitLab's documented API (tests/fakes/gitlab.py), not against the live service.

Repository
    ``base_url``: the instance's web address, ``https://gitlab.example.com`` or one
    under a path (``https://host/gitlab``); empty means ``https://gitlab.com``. The
    API is under ``{base_url}/api/v4`` (a ``base_url`` ending in ``/api/v4`` is taken
    as the instance's address). Secret: a personal, group or project access token
    with scope ``api`` (``read_api`` reads but every write is refused); its user
    needs the role Reporter (or Planner) or more in the project to edit issues (a
    Guest may create issues, not edit them). ``username`` is not used.
    ``settings`` (all optional): ``overlap_seconds`` (0 to 3600, default 10: see
    change detection), ``page_size`` (1 to 100, default 100: issues per list call)
    and ``create_labels`` (default false: see labels).

Scope (one mapping side)
    One project: its path ``group/sub/project`` (URL-encoded in calls, as GitLab
    requires) or its numeric id ``42``. The connector looks the project up once per
    connector (``GET /projects/:id``) and then calls it by id, so a project moved or
    renamed since keeps working through its old path (GitLab answers a GET of the old
    path with a redirect to the id, and refuses writes to it with a 405), until
    another project takes that path. A scope given by id is immune to renames. Two
    scopes overlap when they name the same project the same way (paths compared
    without case, as GitLab does); a path and an id may be one project, which the
    text cannot tell, so they overlap.

Artifacts
    ``key``: ``<project as the scope names it>#<iid>``, e.g. ``group/web#12`` or
    ``42#12``. The iid is the issue's number within its project (what GitLab shows as
    #12), not its global id: the project is part of the key. A mapping's scope must
    therefore keep its spelling once issues are synced (``group/web`` and ``42`` are
    one project but give different keys). ``url``:
    ``{base_url}/{path_with_namespace}/-/issues/{iid}``. Fields, all by name:

    =============== ==========================================================
    ``title``       text (GitLab strips it; 255 characters at most)
    ``description`` text ("" when none; line ends read as ``\\n``)
    ``state``       "opened" or "closed"; written as GitLab's ``state_event``
                    close / reopen (an issue is created open, then closed if asked)
    ``labels``      the label names, sorted (a text is one label, "" none)
    ``assignees``   the assignees' usernames, sorted (a text is one user)
    ``milestone``   the milestone's title, "" when none
    =============== ==========================================================

    Names are resolved before anything is written, cached per connector and read
    again once when a name is missing: users through ``GET /users?username=``,
    milestones through the project's milestones with its groups'
    (``include_ancestors``), labels through the project's labels with its groups'.
    A username or milestone that does not exist is a FieldRefused naming the field
    and the value. Labels: GitLab creates a label that does not exist, in the
    project, on the fly; the connector does not let it by default (a label made by
    a typo or an unmapped value would stay in the project for everyone): an unknown
    label is a FieldRefused like a username, unless the repository's setting
    ``create_labels`` is true. A label name with a comma cannot be written (GitLab
    takes labels comma-separated).

    GitLab drops some values without a word: on GitLab Free only the first
    assignee is kept, a user who cannot see the project is not assigned, a
    milestone of another project is not set, a Guest's metadata edits are ignored,
    and a description line that starts with a quick action (``/close``,
    ``/label ~x``, ...) is run and removed from the text. update() reads what GitLab
    answered and raises FieldRefused naming the field that did not take its value
    (the other fields are written). create() never raises once the issue exists
    (the engine would create it again): it returns the issue as GitLab kept it.

Version and concurrent edits
    ``version``: the issue's ``updated_at`` as GitLab shows it
    (``2024-05-01T10:00:00.123Z``), the same from lists and single reads. GitLab's
    issue PUT takes no If-Match nor lock version, so update() reads the issue right
    before writing and raises ConflictError if its ``updated_at`` is not
    ``version``; it then writes only the fields whose value differs from that read.
    The remaining race: an edit that lands between that read and the write (a few
    milliseconds) is overwritten in the fields we write (GitLab keeps the others),
    and is not detected. A 409 from GitLab (its own lock on a concurrent save) is a
    ConflictError too.

Change detection (changed_since)
    Cursor: ``""`` (from the start) or an instant to the millisecond,
    ``"2024-05-01T10:00:00.123Z"`` (UTC): every change before it has been returned.
    Each call lists the project's issues, closed ones included, with
    ``updated_after`` (inclusive) = the cursor, ``order_by=updated_at&sort=asc``,
    ``page_size`` at a time. Pages are not read by number: each next call asks again
    from the ``updated_at`` of the last issue read (so an issue edited meanwhile,
    which moves to the end, hides no other); the issues of that millisecond come
    again and are counted once (by iid, newest version kept). When one millisecond
    holds a whole page, that millisecond alone is read by page numbers
    (``updated_after`` .. ``updated_before`` its last microsecond), read again if
    its ``x-total`` changed meanwhile. GitLab keeps microseconds and shows
    milliseconds: an "instant" here is one millisecond.

    The cursor only ever passes instants that are over: ``overlap_seconds`` before
    GitLab's clock (the ``Date`` header; the newest ``updated_at`` read when there
    is none). Issues changed since then are returned again by the next call (an
    edit whose save committed late, or two edits in the same instant, would
    otherwise be missed; the engine recognises what did not change). A call returns
    whole instants, at most ``limit`` issues (more only when one instant holds
    more), and the cursor continues after the last instant returned. An unreadable
    cursor starts from the beginning.

Errors
    Those of HttpConnector (connection → TransientError, 401 → RepositoryError,
    404 on an issue → ArtifactDeleted, 400 → FieldRefused naming the field, read
    from GitLab's ``{"message": {"title": [...]}}`` or ``{"error": "title is
    missing"}``), and: 429 → TransientError with ``retry_after`` from
    ``Retry-After``, else ``RateLimit-Reset`` (Unix time) or ``RateLimit-ResetTime``;
    a 403 about a project or an issue (issues turned off, a role too low there) is
    a PermanentError for that scope or issue, and a 403 ``insufficient_scope`` on a
    write (a ``read_api`` token) a PermanentError saying so, while other 403s pause
    the repository. GitLab answers 404 for a project the token's user cannot see: a
    scope that 404s is a PermanentError, and an issue key whose project 404s is
    reported deleted.
"""

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from synchronizations.connectors.base import Artifact, Changes
from synchronizations.connectors.http import HttpConnector, retry_after_seconds
from synchronizations.engine.errors import (
    DATABASE_FAILED,
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PartlyCreated,
    PermanentError,
    RepositoryError,
    SyncError,
    TransientError,
)

GITLAB_COM = "https://gitlab.com"
API = "/api/v4"
MAX_PAGE_SIZE = 100  # GitLab's per_page limit
DEFAULT_OVERLAP_SECONDS = 10
MAX_OVERLAP_SECONDS = 3600
# Times one instant is read again because its list changed while it was read.
MAX_RESTARTS = 20
# List calls one changed_since() makes at most (each makes progress).
MAX_CALLS = 10_000
INSTANT = timedelta(milliseconds=1)

TITLE, DESCRIPTION, STATE, LABELS, ASSIGNEES, MILESTONE = (
    "title", "description", "state", "labels", "assignees", "milestone",
)  # fmt: skip
FIELDS = (TITLE, DESCRIPTION, STATE, LABELS, ASSIGNEES, MILESTONE)
STATES = ("opened", "closed")
# GitLab's parameter (as its errors name it) -> the field presented here.
PARAMETERS = {
    "title": TITLE,
    "description": DESCRIPTION,
    "state_event": STATE,
    "state": STATE,
    "labels": LABELS,
    "add_labels": LABELS,
    "assignee_ids": ASSIGNEES,
    "assignee_id": ASSIGNEES,
    "assignees": ASSIGNEES,
    "milestone_id": MILESTONE,
    "milestone": MILESTONE,
}
# Project paths: segments of letters, digits, "_", "." and "-" (not first), at least
# a namespace and a name. Ids: a positive number.
_SEGMENT = r"[A-Za-z0-9_.][A-Za-z0-9_.-]*"
_PATH = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})+")
_ID = re.compile(r"[1-9][0-9]{0,11}")
_CURSOR = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
_MOVED = re.compile(rf"{re.escape(API)}/projects/([1-9][0-9]*)/?$")
# The parameter a Grape message starts with ("title is missing", "labels is invalid").
_GRAPE = re.compile(r"^([a-z_]+)(?:\[\])? (?:is|are|does|has|must)\b")


def parse_scope(text: str) -> str:
    """The project a scope names (a path without surrounding slashes, or an id).
    Raises PermanentError for anything else."""
    value = (text or "").strip().strip("/")
    if _ID.fullmatch(value) or _PATH.fullmatch(value):
        return value
    raise PermanentError(
        f"Scope {text!r} is not a GitLab scope: write a project's path (group/sub/project) or its numeric id."
    )


def issue_key(ref: str, iid: int) -> str:
    """The key of issue ``iid`` of the project the scope names ``ref``: ``ref`` in
    lower case and the iid, ``group/web#12``. The scope's text, not the project's
    path now, so that keys stay when the project is renamed or moved (GitLab
    redirects the old path); in lower case, as GitLab's paths ignore case, so that a
    scope re-spelled ``Group/Web`` links the same issues instead of taking them as
    new. (A scope changed from a path to the project's id, or back, does give new
    keys: the README says so.)"""
    return f"{ref.lower()}#{iid}"


def parse_key(key: str) -> tuple[str, int] | None:
    """(project as the scope names it, iid) of a key ``group/web#12``; None if ``key``
    is not one."""
    project, hash_, iid = (key or "").strip().rpartition("#")
    if not hash_ or not _ID.fullmatch(iid):
        return None
    try:
        return parse_scope(project), int(iid)
    except PermanentError:
        return None


def parse_cursor(cursor: str) -> datetime | None:
    """The instant a changed_since() cursor names; None for "" and for anything this
    connector did not write (detection then starts over: overlap is safe)."""
    text = (cursor or "").strip()
    if not _CURSOR.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_time(moment: datetime, *, micro: bool = False) -> str:
    """``moment`` in UTC as GitLab's ISO 8601, to the millisecond (or microsecond)."""
    moment = moment.astimezone(UTC)
    fraction = f"{moment.microsecond:06d}" if micro else f"{moment.microsecond // 1000:03d}"
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def parse_time(text: str) -> datetime:
    """A GitLab time ("2016-01-04T15:31:51.081Z" or with an offset), aware."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def instant(moment: datetime) -> datetime:
    """The millisecond ``moment`` falls in (its start)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def server_time(response: httpx.Response) -> datetime | None:
    """GitLab's clock from an answer's Date header; None without one."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def rate_limit_wait(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds a 429 asks us to wait: ``Retry-After``, else ``RateLimit-Reset`` (Unix
    time), else ``RateLimit-ResetTime`` (HTTP date), measured from GitLab's clock
    when it sent one; None when none is readable."""
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    if wait is not None:
        return wait
    now = now or server_time(response) or datetime.now(UTC)
    reset = (response.headers.get("RateLimit-Reset") or "").strip()
    if reset.isascii() and reset.isdigit():
        return retry_after_seconds(str(max(0, int(reset) - int(now.timestamp()))))
    return retry_after_seconds(response.headers.get("RateLimit-ResetTime"), now=now)


def _text(value: Any) -> str:
    """A text as presented: None is "", line ends are ``\\n``."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


class _Moved(PermanentError):
    """GitLab redirected a project's old path to its id (the project moved)."""

    def __init__(self, project_id: int, detail: str = ""):
        super().__init__(f"the project moved (now project {project_id})", detail)
        self.project_id = project_id


class GitLabConnector(HttpConnector):
    """Issues of GitLab projects, by name (see the module's documentation for the
    scope, key, fields, version and cursor formats). Every method raises the
    engine's errors as HttpConnector maps them; names that resolve to nothing are
    FieldRefused, raised before anything is written."""

    kind = "gitlab"

    def __init__(self, repository):
        super().__init__(repository)
        root = self.base_url or GITLAB_COM
        if root.endswith(API):
            root = root[: -len(API)]
        self.base_url = root.rstrip("/")
        self.overlap = timedelta(seconds=self.whole_number_setting("overlap_seconds", DEFAULT_OVERLAP_SECONDS, 0, 3600))
        self.page_size = self.whole_number_setting("page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE)
        create_labels = self.settings.get("create_labels", False)
        if not isinstance(create_labels, bool):
            raise PermanentError(
                f"Repository '{self.repository.name}': setting create_labels must be true or false, "
                f"not {create_labels!r}"
            )
        self.create_labels = create_labels
        self._projects: dict[str, dict] = {}  # scope's project (lower-cased) -> GitLab's project
        self._labels: dict[int, set[str]] = {}  # project id -> label names
        self._labels_reloaded: set[int] = set()
        self._milestones: dict[tuple[int, str], int] = {}  # (project id, title) -> milestone id
        self._users: dict[str, tuple[int, str]] = {}  # username (lower-cased) -> (id, username)

    # --- what HttpConnector asks of us -------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.repository.secret_value()}

    def refused_field(self, response: httpx.Response) -> tuple[str, str]:
        """The field of a 400: the first key of ``{"message": {"title": [...]}}``, or
        the parameter ``{"error": "title is missing"}`` starts with; the field as
        presented here (a parameter of ours GitLab names otherwise is mapped)."""
        try:
            body = response.json()
        except ValueError:
            return "", response.text[:300]
        message = body.get("message") if isinstance(body, dict) else None
        if isinstance(message, dict) and message:
            said = "; ".join(f"{name} {' '.join(map(str, _listed(said)))}" for name, said in message.items())
            name = next(iter(message))
            return PARAMETERS.get(name, name), said[:300]
        error = body.get("error") if isinstance(body, dict) else None
        said = str(error if error is not None else message if message is not None else response.text)[:300]
        found = _GRAPE.match(said)
        if found:
            return PARAMETERS.get(found[1], found[1]), said
        return "", said

    def forbidden(self, response: httpx.Response, key: str | None, detail: str) -> Exception:
        """A 403 ``insufficient_scope`` on a write: the token lacks scope ``api``, a
        PermanentError of the sync (a read-only token still reads). A 403 about a
        project or an issue (issues turned off there, the token's user's role too
        low there): a PermanentError of that scope or issue. Other 403s: the
        repository's (it pauses)."""
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        name = self.repository.name
        if error == "insufficient_scope" and response.request.method != "GET":
            return PermanentError(
                f"'{name}' refused the write: the access token has no scope 'api' (a 'read_api' token reads only); "
                "give syncweb a token with scope api",
                detail,
            )
        if key:
            return PermanentError(
                f"'{name}' denied access to {key} (HTTP 403): issues are turned off in the project, or the token's "
                "user lacks the role there (Reporter or more edits issues)",
                detail,
            )
        return super().forbidden(response, key, detail)

    def error_for(self, response: httpx.Response, key: str | None = None) -> Exception:
        """As HttpConnector's, plus: a 429's wait read from GitLab's RateLimit headers
        too, and a redirect of a moved project's path to its id (``_Moved``)."""
        status = response.status_code
        if status == 429:
            return TransientError(
                f"'{self.repository.name}' is rate limiting us (HTTP 429)",
                self._blot(f"{response.request.method} {response.request.url.path} -> HTTP 429\n{response.text}")[
                    :2000
                ],
                retry_after=rate_limit_wait(response),
            )
        if status in (301, 302, 307, 308):
            location = httpx.URL(response.headers.get("Location", ""))
            moved = _MOVED.search(location.path)
            if moved:
                return _Moved(int(moved[1]), f"{response.request.url.path} -> {location.path}")
        return super().error_for(response, key)

    # --- the interface -----------------------------------------------------------------

    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        """Issues of the scope's project changed since ``cursor``, oldest change
        first, whole instants of at most ``limit`` (see the module's docstring)."""
        ref = parse_scope(scope)
        project = self._project(ref)
        since = parse_cursor(cursor)
        limit = max(1, int(limit))
        issues: dict[int, dict] = {}
        after = since
        complete = False
        clock = None
        for _ in range(MAX_CALLS):
            page, response = self._list(project["id"], after=after)
            clock = clock or server_time(response)
            self._keep(issues, page, since)
            # The end: a short page, or GitLab saying there is no next one (a proxy
            # that drops the header costs one more call, never an issue).
            if len(page) < self.page_size or response.headers.get("X-Next-Page") == "":
                complete = True
                break
            if self._enough(issues, limit):
                break
            first, last = instant(parse_time(page[0]["updated_at"])), instant(parse_time(page[-1]["updated_at"]))
            if first == last:  # one instant fills the page: read it by page numbers
                self._keep(issues, self._read_instant(project["id"], last), since)
                after = last + INSTANT
            else:
                after = last
        else:
            raise PermanentError(f"'{self.repository.name}' kept listing changes past {MAX_CALLS} calls")
        ordered = sorted(issues.values(), key=lambda issue: (parse_time(issue["updated_at"]), issue["iid"]))
        chosen, following = _whole_instants(ordered, limit, complete)
        clock = clock or (parse_time(ordered[-1]["updated_at"]) if ordered else None)
        settled = instant(clock - self.overlap) if clock else None
        moment = _next_cursor(since, following, settled)
        artifacts = [self._artifact(ref, project, issue) for issue in chosen]
        return Changes(artifacts, format_time(moment) if moment else "")

    def get(self, key: str) -> Artifact:
        ref, iid = self._parse_key(key)
        project = self._project(ref, key=key)
        return self._artifact(ref, project, self._read(project, key, iid))

    def get_many(self, keys: list[str]) -> dict:
        """Each key read with one list call per project and 100 issues
        (``iids[]=``): {key: Artifact, or ArtifactDeleted for one that is not
        there}. An error of a project's call is given to that project's keys; one of
        the whole repository (unreachable, credentials refused) is raised."""
        results: dict[str, Any] = {}
        by_project: dict[str, dict[int, str]] = {}
        for key in keys:
            parsed = parse_key(key)
            if parsed is None:
                results[key] = ArtifactDeleted(key, self.repository.name, "A GitLab key is 'group/project#12'.")
            else:
                by_project.setdefault(parsed[0], {})[parsed[1]] = key
        for ref, wanted in by_project.items():
            iids = sorted(wanted)
            try:
                project = self._project(ref, key=f"{ref}#{iids[0]}")
                for start in range(0, len(iids), MAX_PAGE_SIZE):
                    chunk = iids[start : start + MAX_PAGE_SIZE]
                    params = [("iids[]", iid) for iid in chunk] + [("per_page", MAX_PAGE_SIZE)]
                    answer = self.request(
                        "GET", self._issues_path(project["id"]), key=f"project '{ref}'", params=params
                    )
                    for issue in answer.json():
                        if issue.get("iid") in wanted:
                            results[wanted[issue["iid"]]] = self._artifact(ref, project, issue)
            except (RepositoryError, TransientError):
                raise  # the whole repository's: the engine gives it to every key
            except DATABASE_FAILED:
                raise
            except SyncError as exc:
                for iid in iids:
                    key = wanted[iid]
                    gone = isinstance(exc, ArtifactDeleted)
                    results.setdefault(key, ArtifactDeleted(key, self.repository.name, exc.detail) if gone else exc)
            for iid in iids:
                key = wanted[iid]
                results.setdefault(key, ArtifactDeleted(key, self.repository.name, "GitLab lists no such issue."))
        return {key: results[key] for key in keys}

    def create(self, scope: str, fields: dict) -> Artifact:
        """A new issue in the scope's project. FieldRefused (before anything is
        written) for a field or a name GitLab does not have. Once the issue exists,
        a state GitLab did not take on creation (it creates issues open) is set by
        an update right after; that update failing, or a value GitLab dropped
        without a word, is a PartlyCreated naming the fields (the engine links the
        issue, never creating it again, and writes them again as an update)."""
        ref = parse_scope(scope)
        project = self._project(ref)
        payload = self._payload(project, fields, None)
        close = payload.pop("state_event", None) == "close"
        payload.setdefault("title", "")
        issue = self.request("POST", self._issues_path(project["id"]), key=f"project '{ref}'", json=payload).json()
        key = issue_key(ref, issue["iid"])
        if close:
            try:
                issue = self.request(
                    "PUT", f"{self._issues_path(project['id'])}/{issue['iid']}", key=key, json={"state_event": "close"}
                ).json()
            except SyncError as exc:
                raise PartlyCreated(self._artifact(ref, project, issue), exc, [STATE]) from exc
        created = self._artifact(ref, project, issue)
        try:
            self._check_written(key, issue, {name: fields[name] for name in _written_fields(payload) if name in fields})
        except FieldRefused as exc:
            raise PartlyCreated(created, exc, [exc.field] if exc.field else list(fields)) from exc
        return created

    def update(self, key: str, fields: dict, version: str) -> Artifact:
        """Writes the fields of ``fields`` that differ from the issue as read now, if
        it is still at ``version`` (else ConflictError, nothing written). FieldRefused
        before writing for an unknown field or name, and after writing for a field
        GitLab did not take (see the module's docstring)."""
        ref, iid = self._parse_key(key)
        project = self._project(ref, key=key)
        current = self._read(project, key, iid)
        if current["updated_at"] != version:
            raise ConflictError(
                f"{key} changed in '{self.repository.name}' since it was read",
                f"version read: {version}; version now: {current['updated_at']}",
            )
        payload = self._payload(project, fields, current)
        if not payload:
            return self._artifact(ref, project, current)
        written = self.request("PUT", f"{self._issues_path(project['id'])}/{iid}", key=key, json=payload).json()
        self._check_written(key, written, {name: fields[name] for name in _written_fields(payload)})
        return self._artifact(ref, project, written)

    def url(self, key: str) -> str:
        parsed = parse_key(key)
        if parsed is None:
            return ""
        ref, iid = parsed
        project = self._projects.get(ref.lower())
        if project is None and _ID.fullmatch(ref):
            try:
                project = self._project(ref)
            except SyncError:
                return ""
        path = project["path_with_namespace"] if project else ref
        return f"{self.base_url}/{path}/-/issues/{iid}"

    def ping(self) -> None:
        """``GET /user``: any valid token may, whatever its scope among api,
        read_api and read_user."""
        self.request("GET", f"{API}/user")

    parse_scope = staticmethod(parse_scope)

    @staticmethod
    def scopes_overlap(a: str, b: str) -> bool:
        """The same project named the same way (paths without case), or a path and
        an id (which may be one project). A scope that is not one overlaps only the
        same text."""
        try:
            first, second = parse_scope(a), parse_scope(b)
        except PermanentError:
            return a.strip() == b.strip()
        if bool(_ID.fullmatch(first)) != bool(_ID.fullmatch(second)):
            return True
        return first.casefold() == second.casefold()

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """Problems of a mapping side: the scope's syntax and project (exists, is
        visible to the token's user, has issues turned on), the token's scope
        (``api`` to write) and role there (Reporter or more edits issues), and each
        field. Raises as ping() does when the credentials are refused."""
        self.ping()
        try:
            ref = parse_scope(scope)
            project = self._project(ref)
        except (PermanentError, RepositoryError) as exc:
            return [exc.message]
        problems = []
        if project.get("issues_enabled") is False:
            problems.append(f"Scope '{scope}': the project has issues turned off.")
        scopes = self._token_scopes()
        if scopes is not None and "api" not in scopes:
            problems.append(
                f"The access token has scopes {', '.join(scopes) or 'none'}: without 'api' GitLab refuses every "
                "write (create a token with scope api)."
            )
        level = _access_level(project)
        if level is not None and level < 15:
            problems.append(
                f"Scope '{scope}': the token's user has role Guest (or less) in the project: it may create issues "
                "but not edit them (Reporter or more is needed)."
            )
        for name in fields:
            if name not in FIELDS:
                problems.append(f"Scope '{scope}': there is no field {name!r}; GitLab fields are {', '.join(FIELDS)}.")
        return problems

    # --- reading -----------------------------------------------------------------------

    def _parse_key(self, key: str) -> tuple[str, int]:
        parsed = parse_key(key)
        if parsed is None:
            raise ArtifactDeleted(key, self.repository.name, "A GitLab key is 'group/project#12' or '42#12'.")
        return parsed

    def _issues_path(self, project_id: int) -> str:
        return f"{API}/projects/{project_id}/issues"

    def _read(self, project: dict, key: str, iid: int) -> dict:
        return self.request("GET", f"{self._issues_path(project['id'])}/{iid}", key=key).json()

    def _list(self, project_id: int, *, after: datetime | None, before: datetime | None = None, page: int = 1):
        """One page of the project's issues by change, oldest first, changed from
        ``after`` (inclusive) to ``before`` (inclusive): (issues, answer)."""
        params = {"order_by": "updated_at", "sort": "asc", "per_page": self.page_size, "page": page}
        if after is not None:
            params["updated_after"] = format_time(after, micro=True)
        if before is not None:
            params["updated_before"] = format_time(before, micro=True)
        where = f"project {project_id}"  # a 403 there is the scope's, not the repository's
        try:
            response = self.request("GET", self._issues_path(project_id), key=where, params=params)
        except ArtifactDeleted as exc:  # the project went away since it was looked up
            raise PermanentError(
                f"Project {project_id} no longer answers in '{self.repository.name}'", exc.detail
            ) from None
        issues = response.json()
        if not isinstance(issues, list):
            raise PermanentError(f"'{self.repository.name}' answered a list of issues with something else")
        return issues, response

    def _read_instant(self, project_id: int, moment: datetime) -> list[dict]:
        """Every issue changed within the millisecond ``moment``, by page numbers,
        read again while its count changes under us."""
        end = moment + INSTANT - timedelta(microseconds=1)
        for _ in range(MAX_RESTARTS):
            found: list[dict] = []
            page, total = 1, None
            for _ in range(MAX_CALLS):
                issues, response = self._list(project_id, after=moment, before=end, page=page)
                found += issues
                count = response.headers.get("X-Total")
                if total is None:
                    total = count
                elif count != total:
                    break  # an issue left the instant: pages shifted, read it again
                following = response.headers.get("X-Next-Page")
                if not following or not issues:
                    return found
                page = int(following)
        raise TransientError(
            f"'{self.repository.name}''s issue list kept changing while it was read ({MAX_RESTARTS} restarts)"
        )

    @staticmethod
    def _keep(issues: dict[int, dict], page: list[dict], since: datetime | None) -> None:
        """Adds ``page`` to ``issues`` (by iid, the newest version kept), leaving out
        changes before ``since``."""
        for issue in page:
            moment = parse_time(issue["updated_at"])
            if since is not None and moment < since:
                continue
            known = issues.get(issue["iid"])
            if known is None or moment >= parse_time(known["updated_at"]):
                issues[issue["iid"]] = issue

    @staticmethod
    def _enough(issues: dict[int, dict], limit: int) -> bool:
        if len(issues) <= limit:
            return False
        moments = {instant(parse_time(issue["updated_at"])) for issue in issues.values()}
        return len(moments) > 1

    def _artifact(self, ref: str, project: dict, issue: dict) -> Artifact:
        key = issue_key(ref, issue["iid"])
        return Artifact(
            key=key,
            fields=self._fields(issue),
            version=issue["updated_at"],
            url=f"{self.base_url}/{project['path_with_namespace']}/-/issues/{issue['iid']}",
            updated_at=parse_time(issue["updated_at"]),
        )

    @staticmethod
    def _fields(issue: dict) -> dict:
        milestone = issue.get("milestone") or {}
        return {
            TITLE: issue.get("title") or "",
            DESCRIPTION: _text(issue.get("description")),
            STATE: issue.get("state") or "",
            LABELS: sorted(_label_name(label) for label in issue.get("labels") or []),
            ASSIGNEES: sorted(user["username"] for user in issue.get("assignees") or []),
            MILESTONE: milestone.get("title") or "",
        }

    # --- writing -----------------------------------------------------------------------

    def _payload(self, project: dict, fields: dict, current: dict | None) -> dict:
        """GitLab's parameters for ``fields`` (names resolved to ids), leaving out
        what ``current`` (the issue as read; None when creating) already has.
        FieldRefused for an unknown field or a name that resolves to nothing."""
        now = self._fields(current) if current is not None else None
        payload: dict[str, Any] = {}
        for name, value in fields.items():
            if name == TITLE:
                if value is not None and not isinstance(value, str):
                    raise self._refused(name, f"{value!r} is not a text")
                if now is None or _text(value).strip() != now[TITLE]:
                    payload["title"] = _text(value)
            elif name == DESCRIPTION:
                if value is not None and not isinstance(value, str):
                    raise self._refused(name, f"{value!r} is not a text")
                if now is None or _text(value) != now[DESCRIPTION]:
                    payload["description"] = _text(value)
            elif name == STATE:
                if value not in STATES:
                    raise self._refused(name, f"{value!r} is not a GitLab state ({' or '.join(STATES)})")
                if value != (now[STATE] if now else "opened"):
                    payload["state_event"] = "close" if value == "closed" else "reopen"
            elif name == LABELS:
                names = self._names(name, value)
                self._check_labels(project, names)
                if now is None or names != now[LABELS]:
                    payload["labels"] = ",".join(names)
            elif name == ASSIGNEES:
                names = self._names(name, value)
                ids = [self._user_id(username) for username in names]
                if now is None or sorted(n.casefold() for n in names) != sorted(n.casefold() for n in now[ASSIGNEES]):
                    payload["assignee_ids"] = ids
            elif name == MILESTONE:
                if value is not None and not isinstance(value, str):
                    raise self._refused(name, f"{value!r} is not a milestone's title")
                title = value or ""
                if now is None or title != now[MILESTONE]:
                    payload["milestone_id"] = self._milestone_id(project, title) if title else 0
            else:
                raise self._refused(name, f"no such field here (fields: {', '.join(FIELDS)})")
        return payload

    def _names(self, field: str, value: Any) -> list[str]:
        """A list field's names, sorted and without repeats: a list of texts, one text
        (one name, "" none) or None (none)."""
        if value is None or value == "":
            return []
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise self._refused(field, f"{value!r} is not a list of names")
        return sorted({item.strip() for item in items if item.strip()})

    def _check_written(self, key: str, written: dict, fields: dict) -> None:
        """FieldRefused for a field GitLab left without the value we wrote (it drops
        some values without a word)."""
        now = self._fields(written)
        expected = {}
        for name, value in fields.items():
            if name in (TITLE, DESCRIPTION):  # compared without surrounding white space
                expected[name] = _text(value).strip()
            elif name in (LABELS, ASSIGNEES):
                expected[name] = self._names(name, value)
            else:
                expected[name] = value or ""
        why = {
            ASSIGNEES: "GitLab Free keeps one assignee per issue; a user who cannot see the project is not assigned",
            MILESTONE: "the milestone is not available to the issue's project",
            DESCRIPTION: "a line starting with a quick action (such as /close) is run by GitLab and removed",
            LABELS: "the token's user may not set labels here (role Guest?)",
            STATE: "the token's user may not close or reopen this issue",
            TITLE: "GitLab changed it",
        }
        for name, value in expected.items():
            shown = now[name].strip() if name == DESCRIPTION else now[name]
            same = (
                [n.casefold() for n in shown] == [n.casefold() for n in value] if name == ASSIGNEES else shown == value
            )
            if not same:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field '{name}': {key} kept {shown!r} instead of "
                    f"{value!r} ({why[name]})",
                    field=name,
                )

    def _refused(self, field: str, said: str) -> FieldRefused:
        return FieldRefused(f"'{self.repository.name}' refused the value of field '{field}': {said}", field=field)

    # --- names and ids -----------------------------------------------------------------

    def _project(self, ref: str, *, key: str | None = None) -> dict:
        """GitLab's project named ``ref`` (a path or an id), cached. A project that
        does not answer (404: missing, hidden from the token's user, or a base URL
        that is not GitLab's) is a PermanentError, for a scope and for an issue
        ``key`` alike: never "deleted", whose Recreate would copy the issue again
        while it may still exist."""
        cached = self._projects.get(ref.lower())
        if cached is not None:
            return cached
        where = f"project '{ref}'"
        try:
            try:
                project = self.request("GET", f"{API}/projects/{quote(ref, safe='')}", key=where).json()
            except _Moved as moved:
                project = self.request("GET", f"{API}/projects/{moved.project_id}", key=where).json()
        except ArtifactDeleted as exc:
            if key:
                raise PermanentError(
                    f"{key}: its project '{ref}' does not answer in '{self.repository.name}' (deleted, or the token's "
                    "user cannot see it, or the repository's base URL is not GitLab's): check the project and the "
                    "repository, then Retry",
                    exc.detail,
                ) from None
            raise PermanentError(
                f"Scope '{ref}': project '{ref}' does not exist in '{self.repository.name}' (or the token's user "
                "cannot see it)",
                exc.detail,
            ) from None
        if not isinstance(project, dict) or "id" not in project or "path_with_namespace" not in project:
            raise PermanentError(f"'{self.repository.name}' did not answer as GitLab does for {where}")
        self._projects[ref.lower()] = project
        return project

    def _check_labels(self, project: dict, names: list[str]) -> None:
        for name in names:
            if "," in name:
                raise self._refused(LABELS, f"{name!r}: a GitLab label name cannot hold a comma")
        if self.create_labels:
            return
        missing = [name for name in names if name not in self._label_names(project["id"])]
        if missing and project["id"] not in self._labels_reloaded:
            self._labels_reloaded.add(project["id"])
            self._labels.pop(project["id"], None)
            missing = [name for name in names if name not in self._label_names(project["id"])]
        if missing:
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field 'labels': no label is named "
                f"{', '.join(map(repr, missing))} in project '{project['path_with_namespace']}' (create it in GitLab, "
                "or set the repository's setting create_labels to let GitLab create it)",
                field=LABELS,
            )

    def _label_names(self, project_id: int) -> set[str]:
        if project_id not in self._labels:
            self._labels[project_id] = {
                label["name"]
                for label in self.paginate(
                    f"{API}/projects/{project_id}/labels",
                    {"per_page": MAX_PAGE_SIZE, "page": 1, "include_ancestor_groups": "true"},
                    items=lambda response: response.json(),
                    next_params=_next_page,
                )
            }
        return self._labels[project_id]

    def _milestone_id(self, project: dict, title: str) -> int:
        cache_key = (project["id"], title)
        if cache_key not in self._milestones:
            found = self.request(
                "GET",
                f"{API}/projects/{project['id']}/milestones",
                params={"title": title, "include_ancestors": "true", "per_page": MAX_PAGE_SIZE},
            ).json()
            matches = [item["id"] for item in found if item.get("title") == title]
            if not matches:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field 'milestone': no milestone is titled "
                    f"{title!r} in project '{project['path_with_namespace']}' or its groups",
                    field=MILESTONE,
                )
            self._milestones[cache_key] = matches[0]
        return self._milestones[cache_key]

    def _user_id(self, username: str) -> int:
        folded = username.casefold()
        if folded not in self._users:
            found = self.request("GET", f"{API}/users", params={"username": username}).json()
            matches = [user for user in found if str(user.get("username", "")).casefold() == folded]
            if not matches:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field 'assignees': no user has the username "
                    f"{username!r}",
                    field=ASSIGNEES,
                )
            self._users[folded] = (matches[0]["id"], matches[0]["username"])
        return self._users[folded][0]

    def _token_scopes(self) -> list[str] | None:
        """The token's scopes (``GET /personal_access_tokens/self``); None when it
        cannot tell (an OAuth token, an older GitLab)."""
        try:
            scopes = self.request("GET", f"{API}/personal_access_tokens/self").json().get("scopes")
        except (PermanentError, RepositoryError, AttributeError):
            return None
        return [str(scope) for scope in scopes] if isinstance(scopes, list) else None


def _written_fields(payload: dict) -> list[str]:
    """The fields presented here that GitLab parameters ``payload`` write."""
    return sorted({PARAMETERS[name] for name in payload if name in PARAMETERS})


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _label_name(label: Any) -> str:
    """A label of an issue: its name (``with_labels_details`` gives objects)."""
    return str(label.get("name", "")) if isinstance(label, dict) else str(label)


def _access_level(project: dict) -> int | None:
    """The token's user's role in ``project`` (GitLab's access level: 10 Guest, 15
    Planner, 20 Reporter, 30 Developer, ...); None when GitLab does not say (an
    administrator, or a public project the user is no member of)."""
    permissions = project.get("permissions") or {}
    levels = [(permissions.get(kind) or {}).get("access_level") for kind in ("project_access", "group_access")]
    levels = [level for level in levels if isinstance(level, int)]
    return max(levels) if levels else None


def _next_page(response: httpx.Response, params: dict, count: int) -> dict | None:
    """paginate()'s next_params for GitLab's offset pages (``X-Next-Page``)."""
    following = (response.headers.get("X-Next-Page") or "").strip()
    if not following.isdigit() or count == 0:
        return None
    return {**params, "page": int(following)}


def _whole_instants(issues: list[dict], limit: int, complete: bool) -> tuple[list[dict], datetime | None]:
    """The issues to return (sorted by change): whole instants, at most ``limit``
    unless the first instant alone holds more; and the instant the next read
    continues from (None when every issue was returned)."""
    if len(issues) <= limit and complete:
        return issues, None
    if not issues:
        return [], None
    moments = [instant(parse_time(issue["updated_at"])) for issue in issues]
    if len(issues) > limit:
        cut = moments[limit]
        chosen = [issue for issue, moment in zip(issues, moments, strict=True) if moment < cut]
        if chosen:
            return chosen, cut
    first = moments[0]
    chosen = [issue for issue, moment in zip(issues, moments, strict=True) if moment == first]
    following = next((moment for moment in moments if moment > first), None)
    if following is None and not complete:
        following = first + INSTANT
    return chosen, following


def _next_cursor(since: datetime | None, following: datetime | None, settled: datetime | None) -> datetime | None:
    """Where the next read starts: the first instant not returned (``following``;
    None when all was), never past the ``settled`` instants (None: unknown) nor
    back before ``since``."""
    moments = [moment for moment in (following, settled) if moment is not None]
    moment = min(moments) if moments else since
    if since is not None and (moment is None or moment < since):
        return since
    return moment
