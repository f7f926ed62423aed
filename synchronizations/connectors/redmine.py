"""The Redmine connector: issues over Redmine's REST API (JSON), authenticated with
an API key (``repository.secret``, sent as ``X-Redmine-API-Key``; the REST API must
be enabled in Redmine's settings). Built on HttpConnector, which maps every HTTP
failure to the engine's errors.

Repository
    ``base_url``: Redmine's root URL (``https://redmine.example.com/`` or a sub-path).
    ``settings``: ``overlap_seconds`` (int, 0 to 3600, default 10: see change detection)
    and ``default_tracker`` (a tracker name for new issues of a scope that names none).

Scope (one mapping side)
    ``project`` — the issues of project ``project`` (its identifier), not those of
    its subprojects; ``project+`` — with its subprojects' issues too (new issues still
    go to ``project``); ``project/Tracker name`` or ``project+/Tracker name`` — only
    issues of that tracker, and new issues get it. Without a tracker, new issues get
    ``default_tracker`` if set, else the project's first tracker (Redmine's choice).

Artifacts
    ``key``: ``#42`` (Redmine's own way of writing an issue number; "42" is accepted
    too). ``url``: ``{base_url}/issues/42``. Fields, all by name (field maps speak
    names, never Redmine's ids):

    ============== ============================================================
    ``title``       the subject
    ``description`` the description ("" when none; line ends read as ``\\n``)
    ``status``      the status's name, e.g. "New"
    ``priority``    the priority's name, e.g. "Normal"
    ``tracker``     the tracker's name, e.g. "Bug"
    ``assignee``    the assignee's login ("" when none; a group by its name)
    *custom field*  each issue custom field under its own name, e.g. ``Customer``
                    ("" when empty; a list for a multiple-value field)
    ============== ============================================================

    Names are resolved to ids through /issue_statuses.json,
    /enumerations/issue_priorities.json, /trackers.json, /users.json (administrator
    keys; otherwise the project's /memberships.json and /users/N.json) and
    /custom_fields.json (administrator keys; otherwise the project's enabled issue
    custom fields and those an issue of the project shows), cached in the connector
    instance and fetched again once when a name is missing. A name nothing resolves
    is a FieldRefused naming the field and the value, before anything is written.

Version and concurrent edits
    ``version``: ``"{updated_on}/{journals}"`` from get(), create() and update() —
    the issue's ``updated_on`` (whole seconds) and the number of its journals
    visible to us, so that two edits in one second still change it; an artifact
    from changed_since() carries ``"{updated_on}"`` only (Redmine's lists cannot
    include journals), which update() checks on ``updated_on`` alone.

    update() reads the issue right before writing and raises ConflictError if its
    version differs. Redmine has optimistic locking (an issue's ``lock_version``,
    which a PUT may carry: a stale one is refused with a 422 and no error message,
    taken here as a ConflictError) but never shows ``lock_version`` in its API. The
    connector guesses it: a new issue is saved twice (created, then made the root
    of its task tree), and each edit that leaves a journal saves it once more, so
    the guess is journals + 1, and a PUT with the right guess cannot overwrite an
    edit made since that read. When the guess is wrong (an issue edited without a
    journal, a subtask, private notes we cannot see) the issue is read again: if it
    changed, ConflictError; if not, it is written without ``lock_version``, and an
    edit landing in the milliseconds between that read and the write is
    overwritten (only the fields we write; Redmine keeps the others).

    Redmine ignores, without an error, a status the workflow does not allow for the
    key's user and a custom field not enabled for the issue's project and tracker.
    update() checks the status against the issue's ``allowed_statuses`` before
    writing, and after every write the values read back: a field that did not take
    its value is a FieldRefused. create() cannot raise once the issue exists (the
    engine would create it again): a status Redmine does not take on creation is
    set by an update right after; if the workflow refuses it, or anything fails
    once the issue exists, the issue is returned as it is.

Change detection (changed_since)
    Cursor: ``""`` (from the start) or an instant ``"2024-05-01T10:00:00Z"``: every
    change before it has been returned. Each call lists the scope's issues,
    closed ones included, with ``updated_on`` from the cursor on, sorted by
    ``updated_on`` then id, 100 per page to the end. Consecutive pages overlap by one
    issue; when that issue moved (an issue read earlier changed meanwhile and went
    to the end of the list), reading starts again from its second, so no issue
    slips between pages.

    The cursor only ever passes seconds that are over: ``overlap_seconds`` before
    the server's clock (its ``Date`` header; the newest ``updated_on`` read when
    there is none). Issues changed since then are returned again by the next call:
    ``updated_on`` has one-second resolution, so an issue edited twice in one
    second, or an issue whose save committed late, looks like one already
    returned; returning the last seconds again is the only way to miss neither
    (the engine recognises what did not change by its fingerprint). Settled seconds
    are not returned twice. A call returns whole seconds of changes, at most
    ``limit`` issues (more only when a single second holds more); the cursor then
    continues after the last second returned.

Errors
    Those of HttpConnector (connection → TransientError, 401 → RepositoryError,
    404 on an issue → ArtifactDeleted, 422 → FieldRefused naming the field). A 403
    about an issue or a project (a private one, or a permission the key's user
    lacks there) is a PermanentError for that issue or scope; only a 403 about no
    artifact is a RepositoryError that pauses the repository. The
    field of a 422 is read from Redmine's message ("Subject is too long …" →
    ``title``, "Customer cannot be blank" → ``Customer``); Redmine words messages
    in the API user's language, and the fixed fields are recognised in English
    only. On a Redmine that does not require login, a wrong API key reads as the
    anonymous user: lists may succeed, while ping() and writes refuse it.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from synchronizations.connectors.base import Artifact, Changes
from synchronizations.connectors.http import HttpConnector
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    RepositoryError,
    SyncError,
    TransientError,
)

# Redmine lists at most 100 items a page.
PAGE_SIZE = 100
DEFAULT_OVERLAP_SECONDS = 10
MAX_OVERLAP_SECONDS = 3600
# Times a read starts again from a second because the list moved under it.
MAX_RESTARTS = 20

TITLE, DESCRIPTION, STATUS, PRIORITY, TRACKER, ASSIGNEE = (
    "title", "description", "status", "priority", "tracker", "assignee",
)  # fmt: skip
FIXED_FIELDS = (TITLE, DESCRIPTION, STATUS, PRIORITY, TRACKER, ASSIGNEE)
# Redmine's English labels of the fixed fields, as its validation messages start.
LABELS = {
    "Subject": TITLE,
    "Description": DESCRIPTION,
    "Status": STATUS,
    "Priority": PRIORITY,
    "Tracker": TRACKER,
    "Assignee": ASSIGNEE,
}
# A label followed by the verb of a Rails validation message ("X is invalid",
# "X cannot be blank", "X must be greater than …"): the label of a field we do not
# know by name.
_MESSAGE_LABEL = re.compile(r"^(.+?) (?:is|are|cannot|can't|must|has|have|doesn't|does not|should)\b")
_KEY = re.compile(r"^#?([1-9][0-9]{0,11})$")
_SCOPE = re.compile(r"^(?P<project>[a-z0-9_-]{1,100})(?P<sub>\+?)(?:/(?P<tracker>.+))?$")
_INSTANT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Scope:
    """A mapping side's scope on a Redmine: ``project`` identifier, whether its
    ``subprojects``' issues are in it, and a ``tracker`` name ("" = every tracker)."""

    project: str
    subprojects: bool = False
    tracker: str = ""

    @classmethod
    def parse(cls, text: str) -> "Scope":
        """``project``, ``project+``, ``project/Tracker`` or ``project+/Tracker``.
        Raises PermanentError for anything else."""
        match = _SCOPE.match((text or "").strip())
        if not match:
            raise PermanentError(
                f"Scope {text!r} is not a Redmine scope: write a project identifier, optionally followed by "
                "'+' (with its subprojects) and '/Tracker name'."
            )
        return cls(match["project"], bool(match["sub"]), (match["tracker"] or "").strip())


def issue_number(key: str) -> int | None:
    """The issue number of a key ("#42" or "42"), None if ``key`` is not one."""
    match = _KEY.match((key or "").strip())
    return int(match[1]) if match else None


def parse_cursor(cursor: str) -> datetime | None:
    """The instant a changed_since() cursor names; None for "" or anything that is
    not one of ours (detection then starts from the beginning: returning an issue
    again is safe, missing one is not)."""
    try:
        return datetime.strptime((cursor or "").strip(), _INSTANT).replace(tzinfo=UTC)
    except ValueError:
        return None


def format_cursor(moment: datetime) -> str:
    """The cursor text of ``moment`` (whole seconds, UTC)."""
    return moment.astimezone(UTC).strftime(_INSTANT)


def parse_time(text: str) -> datetime:
    """A Redmine timestamp ("2024-05-01T10:00:00Z" or with an offset), aware."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    """A text value as presented: None is "", line ends are ``\\n``."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _values(value: Any) -> list[str]:
    """A field's values as a sorted list of texts ("" and None: none)."""
    items = value if isinstance(value, list) else [value]
    return sorted(_text(item) for item in items if item not in (None, ""))


def _messages(response: httpx.Response) -> list[str] | None:
    """The messages of a Redmine error answer ({"errors": [...]}); None if it is not one."""
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        return None
    return [str(message) for message in errors] if isinstance(errors, list) else None


class NameTable:
    """Name → id of one kind of Redmine object (statuses, trackers, …), read by
    ``load()`` (pairs (id, name)) on first use, and once more when a name is missing
    (it may have been added since). Reading needs no table: Redmine's issues carry
    the names."""

    def __init__(self, load: Callable[[], Iterable[tuple[int, str]]]):
        self._load = load
        self._ids: dict[str, int] | None = None
        self._reloaded = False

    def id_of(self, name: str) -> int | None:
        """The id named ``name``, or None."""
        self._ensure()
        if name not in self._ids:
            self._reload()
        return self._ids.get(name)

    def names(self) -> list[str]:
        """Every name, sorted."""
        self._ensure()
        return sorted(self._ids)

    def _ensure(self) -> None:
        if self._ids is None:
            self._fill()

    def _reload(self) -> None:
        if not self._reloaded:
            self._reloaded = True
            self._fill()

    def _fill(self) -> None:
        self._ids = {name: ident for ident, name in self._load()}


class _ChangeReader:
    """The state of one changed_since() read, handed to HttpConnector.paginate():
    pages overlap by one issue, and a read starts again from the second of the last
    issue read when that issue is not where it was (the list moved: an issue read
    before changed meanwhile). Stops at the end, or once more than ``limit`` issues
    are read and they span more than one second."""

    def __init__(self, base: dict, since: datetime | None, limit: int):
        self.base = base
        self.since = since
        self.limit = limit
        self.issues: dict[int, dict] = {}  # id -> the newest version read
        self.last: dict | None = None
        self.complete = False
        self.server_now: datetime | None = None
        self.restarts = 0
        self.first = self.params(since, 0)

    def params(self, since: datetime | None, offset: int) -> dict:
        params = {**self.base, "offset": offset, "limit": PAGE_SIZE}
        if since is not None:
            params["updated_on"] = f">={format_cursor(since)}"
        return params

    def items(self, response: httpx.Response) -> list[dict]:
        if self.server_now is None:
            self.server_now = _server_time(response)
        page = response.json().get("issues", [])
        for issue in page:
            moment = parse_time(issue["updated_on"])
            if self.since is not None and moment < self.since:
                continue  # Redmine's ">=" takes in the second before, too
            known = self.issues.get(issue["id"])
            if known is None or moment >= parse_time(known["updated_on"]):
                self.issues[issue["id"]] = issue
        return page

    def next_params(self, response: httpx.Response, params: dict, count: int) -> dict | None:
        body = response.json()
        page = body.get("issues", [])
        offset = int(params.get("offset", 0))
        moved = (
            offset > 0
            and self.last is not None
            and (not page or (page[0]["id"], page[0]["updated_on"]) != (self.last["id"], self.last["updated_on"]))
        )
        previous, self.last = self.last, (page[-1] if page else self.last)
        if moved:
            self.restarts += 1
            if self.restarts > MAX_RESTARTS:
                raise TransientError(f"Redmine's issue list kept changing while it was read ({self.restarts} restarts)")
            return self.params(parse_time(previous["updated_on"]).replace(microsecond=0), 0)
        if not page or offset + count >= int(body.get("total_count", 0)):
            self.complete = True
            return None
        if self._enough():
            return None
        return {**params, "offset": offset + count - 1}

    def _enough(self) -> bool:
        if len(self.issues) <= self.limit:
            return False
        times = [parse_time(issue["updated_on"]) for issue in self.issues.values()]
        return max(times) > min(times)


def _server_time(response: httpx.Response) -> datetime | None:
    """The server's clock from the answer's Date header, None without one."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RedmineConnector(HttpConnector):
    """Issues of a Redmine, by name (see the module's documentation for the scope,
    key, fields, version and cursor formats). Every method raises the engine's
    errors as HttpConnector maps them; names that resolve to nothing are
    FieldRefused, raised before anything is written."""

    kind = "redmine"

    def __init__(self, repository):
        super().__init__(repository)
        self.overlap = timedelta(seconds=self._overlap_seconds())
        self.statuses = NameTable(lambda: self._pairs("/issue_statuses.json", "issue_statuses"))
        self.priorities = NameTable(lambda: self._pairs("/enumerations/issue_priorities.json", "issue_priorities"))
        self.trackers = NameTable(lambda: self._pairs("/trackers.json", "trackers"))
        self._projects: dict[str, dict] = {}
        self._logins: dict[int, str] = {}  # user id -> login
        self._user_ids: dict[str, int] = {}  # login -> user id
        self._all_users: bool | None = None  # None: not tried; False: the key may not list users
        self._principals: dict[int, dict[str, int]] = {}  # project id -> name/login -> assignable id
        self._custom_fields: dict[str, int] = {}  # name -> id, as learned
        self._admin_custom_fields: dict[str, dict] | None = None

    # --- what HttpConnector asks of us -------------------------------------------------

    def headers(self) -> dict[str, str]:
        return {"X-Redmine-API-Key": self.repository.secret_value()}

    def refused_field(self, response: httpx.Response) -> tuple[str, str]:
        """The field a 422 names: the first of Redmine's messages that starts with
        a fixed field's English label or a custom field's name; all messages as what
        it said."""
        messages = _messages(response)
        if not messages:
            return "", response.text[:300]
        known = {**LABELS, **{name: name for name in self._custom_fields}}
        for message in messages:
            for label in sorted(known, key=len, reverse=True):
                if message.startswith(label + " "):
                    return known[label], "; ".join(messages)
        for message in messages:
            match = _MESSAGE_LABEL.match(message)
            if match:
                return LABELS.get(match[1], match[1]), "; ".join(messages)
        return "", "; ".join(messages)

    def forbidden(self, response: httpx.Response, key: str | None, detail: str) -> Exception:
        """A 403 about one issue or project (private, or a permission the API key's
        user lacks there) is that issue's or project's problem, a PermanentError;
        only a 403 about no artifact pauses the repository."""
        if key:
            return PermanentError(
                f"'{self.repository.name}' denied us access to {key} (HTTP 403): the API key's user lacks the "
                "permission there",
                detail,
            )
        return super().forbidden(response, key, detail)

    def error_for(self, response: httpx.Response, key: str | None = None) -> Exception:
        """As HttpConnector's, plus: a 422 with no message to an issue's PUT is Redmine
        refusing a stale ``lock_version`` (the only way it answers so), a ConflictError."""
        if response.status_code == 422 and response.request.method == "PUT" and key and _messages(response) == []:
            return ConflictError(
                f"{key} changed in '{self.repository.name}' while it was being updated (stale lock_version)",
                f"{response.request.method} {response.request.url.path} -> HTTP 422\n{response.text[:300]}",
            )
        return super().error_for(response, key)

    # --- the interface -----------------------------------------------------------------

    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        target = Scope.parse(scope)
        project = self._project(target)
        since = parse_cursor(cursor)
        params = {
            "project_id": project["id"],
            "status_id": "*",
            "sort": "updated_on,id",
        }
        if not target.subprojects:
            params["subproject_id"] = "!*"
        if target.tracker:
            params["tracker_id"] = self._scope_tracker_id(target, project)
        reader = _ChangeReader(params, since, max(1, int(limit)))
        for _ in self.paginate("/issues.json", reader.first, items=reader.items, next_params=reader.next_params):
            pass  # the reader keeps the newest version of each issue
        issues = sorted(reader.issues.values(), key=lambda issue: (parse_time(issue["updated_on"]), issue["id"]))
        chosen, following = _whole_seconds(issues, reader.limit, reader.complete)
        clock = reader.server_now or (parse_time(issues[-1]["updated_on"]) if issues else None)
        settled = (clock - self.overlap).replace(microsecond=0) if clock else None
        moment = _next_cursor(since, following, settled)
        return Changes([self._artifact(issue) for issue in chosen], format_cursor(moment) if moment else "")

    def get(self, key: str) -> Artifact:
        return self._artifact(self._read(key))

    @staticmethod
    def scopes_overlap(a: str, b: str) -> bool:
        """Two scopes overlap when their projects may share issues and their
        trackers may be the same (either names none, or both name the same one).
        Projects may share issues when they are the same project, or when either
        scope has ``+``: which projects are its subprojects is known only to the
        server, so, conservatively, a ``+`` scope may cover any other project. A
        scope that is not one (Scope.parse refuses it) detects nothing; it overlaps
        only the same text."""
        try:
            first, second = Scope.parse(a), Scope.parse(b)
        except PermanentError:
            return a.strip() == b.strip()
        projects = first.project == second.project or first.subprojects or second.subprojects
        trackers = not first.tracker or not second.tracker or first.tracker.casefold() == second.tracker.casefold()
        return projects and trackers

    @staticmethod
    def same_version(seen: str, current: str) -> bool:
        """Versions from a list (``updated_on``) and from get() (``updated_on/journals``)
        compare by ``updated_on``, and by the journals too when both have them. An
        edit within the same second as ``seen`` without a journal looks unchanged."""
        if not seen or not current:
            return False
        seen_time, _, seen_journals = seen.partition("/")
        time, _, journals = current.partition("/")
        return seen_time == time and (not seen_journals or not journals or seen_journals == journals)

    def create(self, scope: str, fields: dict) -> Artifact:
        target = Scope.parse(scope)
        project = self._project(target)
        if target.tracker and fields.get(TRACKER) not in (None, "", target.tracker):
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field 'tracker': {fields[TRACKER]!r} is outside "
                f"scope '{scope}' (tracker {target.tracker!r})",
                field=TRACKER,
            )
        custom = self._project_custom_fields(project, target.tracker) if set(fields) - set(FIXED_FIELDS) else {}
        payload = self._payload(fields, custom, project_id=project["id"])
        payload["project_id"] = project["id"]
        tracker = target.tracker or self.settings.get("default_tracker") or ""
        if TRACKER not in payload and tracker:
            payload["tracker_id"] = self._scope_tracker_id(Scope(target.project, tracker=tracker), project)
        where = f"project '{target.project}'"
        answer = self.request("POST", "/issues.json", key=where, json={"issue": payload}).json()["issue"]
        key = f"#{answer['id']}"
        try:
            return self._finish_creation(key, fields.get(STATUS))
        except SyncError:
            # The issue exists: raising now would have the engine create it again.
            return self._artifact(answer, resolve=False)

    def _finish_creation(self, key: str, status: str | None) -> Artifact:
        """The new issue ``key`` as read back, given ``status`` if it has not: Redmine
        gives a new issue its tracker's default status unless the workflow allows
        another for new issues, so the status is set as an edit."""
        created = self._read(key)
        if status in (None, "") or created["status"]["name"] == status:
            return self._artifact(created)
        try:
            return self.update(key, {STATUS: status}, self._version(created))
        except PermanentError:  # the workflow refuses it: the issue keeps its status
            return self.get(key)

    def update(self, key: str, fields: dict, version: str) -> Artifact:
        current = self._read(key, include="journals,allowed_statuses")
        self._check_version(key, current, version)
        available = {field["name"]: field["id"] for field in current.get("custom_fields", [])}
        self._custom_fields.update(available)
        payload = self._payload(fields, available, project_id=current["project"]["id"])
        self._check_status_allowed(key, current, fields)
        path = f"/issues/{issue_number(key)}.json"
        guess = len(current.get("journals", [])) + 1
        try:
            self.request("PUT", path, key=key, json={"issue": {**payload, "lock_version": guess}})
        except ConflictError:
            again = self._read(key, include="journals")
            self._check_version(key, again, version)
            # Unchanged: our guess of lock_version was wrong, not the issue.
            self.request("PUT", path, key=key, json={"issue": payload})
        written = self._read(key)
        self._check_written(key, written, fields)
        return self._artifact(written)

    def url(self, key: str) -> str:
        number = issue_number(key)
        return f"{self.base_url}/issues/{number}" if number else ""

    def ping(self) -> None:
        self.request("GET", "/users/current.json")

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """Problems of a mapping side: the scope's syntax, its project (exists, is
        visible, tracks issues), its tracker (enabled in the project), and each
        field (a fixed one, or a custom field enabled for the project). Raises as
        ping() does when the credentials are refused."""
        self.ping()
        try:
            target = Scope.parse(scope)
        except PermanentError as exc:
            return [exc.message]
        try:
            project = self._project(target)
        except (PermanentError, RepositoryError) as exc:
            return [exc.message]
        problems = []
        enabled = [tracker["name"] for tracker in project.get("trackers", [])]
        if target.tracker and target.tracker not in enabled:
            problems.append(
                f"Scope '{scope}': project '{target.project}' has no tracker {target.tracker!r} "
                f"(its trackers: {', '.join(enabled) or 'none'})."
            )
        custom = self._project_custom_fields(project, tracker=target.tracker)
        for name in fields:
            if name not in FIXED_FIELDS and name not in custom:
                problems.append(
                    f"Scope '{scope}': there is no field {name!r}; Redmine fields are {', '.join(FIXED_FIELDS)} "
                    f"and the project's custom fields ({', '.join(sorted(custom)) or 'none'})."
                )
        return problems

    # --- reading -----------------------------------------------------------------------

    def _read(self, key: str, include: str = "journals") -> dict:
        number = issue_number(key)
        if number is None:
            raise ArtifactDeleted(key, self.repository.name, "Redmine keys are issue numbers: #42")
        issue = self.request("GET", f"/issues/{number}.json", key=key, params={"include": include}).json()["issue"]
        self._custom_fields.update({field["name"]: field["id"] for field in issue.get("custom_fields", [])})
        return issue

    def _artifact(self, issue: dict, resolve: bool = True) -> Artifact:
        key = f"#{issue['id']}"
        fields = self._fields(issue, resolve)
        return Artifact(key, fields, self._version(issue), self.url(key), parse_time(issue["updated_on"]))

    def _fields(self, issue: dict, resolve: bool = True) -> dict:
        """The fields of a Redmine issue by name. ``resolve``: look the assignee's
        login up if need be (else the login known already, or the display name)."""
        assignee = issue.get("assigned_to")
        if assignee and not resolve:
            login = self._logins.get(assignee["id"], assignee.get("name", ""))
        elif assignee:
            login = self._login(assignee["id"], assignee.get("name", ""))
        else:
            login = ""
        fields = {
            TITLE: issue.get("subject") or "",
            DESCRIPTION: _text(issue.get("description")),
            STATUS: (issue.get("status") or {}).get("name", ""),
            PRIORITY: (issue.get("priority") or {}).get("name", ""),
            TRACKER: (issue.get("tracker") or {}).get("name", ""),
            ASSIGNEE: login,
        }
        for field in issue.get("custom_fields", []):
            if field["name"] in fields:
                continue  # a custom field named like a fixed field is not shown
            value = field.get("value")
            fields[field["name"]] = [_text(item) for item in value] if isinstance(value, list) else _text(value)
        return fields

    @staticmethod
    def _version(issue: dict) -> str:
        if "journals" in issue:
            return f"{issue['updated_on']}/{len(issue['journals'])}"
        return issue["updated_on"]

    def _check_version(self, key: str, current: dict, version: str) -> None:
        updated_on, _, journals = (version or "").partition("/")
        now = self._version(current)
        same = current["updated_on"] == updated_on and (not journals or now == version)
        if not same:
            raise ConflictError(
                f"{key} changed in '{self.repository.name}' since it was read",
                f"version read: {version}; version now: {now}",
            )

    # --- writing -----------------------------------------------------------------------

    def _payload(self, fields: dict, custom_fields: dict[str, int], project_id: int | None = None) -> dict:
        """Redmine's ``issue`` object for ``fields`` (names → ids). FieldRefused for
        a name that resolves to nothing or a field Redmine does not have."""
        payload: dict[str, Any] = {}
        custom = []
        for name, value in fields.items():
            if name == TITLE:
                payload["subject"] = value
            elif name == DESCRIPTION:
                payload["description"] = value
            elif name == STATUS:
                payload["status_id"] = self._resolve(self.statuses, name, value, "status")
            elif name == PRIORITY:
                payload["priority_id"] = self._resolve(self.priorities, name, value, "priority")
            elif name == TRACKER:
                payload["tracker_id"] = self._resolve(self.trackers, name, value, "tracker")
            elif name == ASSIGNEE:
                payload["assigned_to_id"] = self._assignee_id(value, project_id)
            elif name in custom_fields:
                custom.append({"id": custom_fields[name], "value": "" if value is None else value})
            else:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field '{name}': no such field here "
                    f"(fields: {', '.join(FIXED_FIELDS)}, {', '.join(sorted(custom_fields)) or 'no custom fields'})",
                    field=name,
                )
        if custom:
            payload["custom_fields"] = custom
        return payload

    def _resolve(self, table: NameTable, field: str, value: Any, what: str) -> int | str:
        if value in (None, ""):
            return ""  # Redmine answers "… cannot be blank", naming the field
        ident = table.id_of(str(value))
        if ident is None:
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field '{field}': no {what} is named {value!r}",
                f"Known names: {', '.join(table.names())}",
                field=field,
            )
        return ident

    def _check_status_allowed(self, key: str, current: dict, fields: dict) -> None:
        wanted = fields.get(STATUS)
        if wanted in (None, "") or wanted == current["status"]["name"] or "allowed_statuses" not in current:
            return
        allowed = [status["name"] for status in current["allowed_statuses"]]
        if wanted not in allowed:
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field 'status': the workflow does not let the API "
                f"key's user take {key} from {current['status']['name']!r} to {wanted!r}",
                f"Statuses allowed now: {', '.join(allowed) or 'none'}",
                field=STATUS,
            )

    def _check_written(self, key: str, written: dict, fields: dict) -> None:
        """FieldRefused for a field Redmine left without the value we wrote (it
        ignores what the workflow or the tracker does not allow, without a word)."""
        now = self._fields(written)
        for name, value in fields.items():
            if name in (TITLE, DESCRIPTION):
                # Refused out loud when invalid, but ignored without a word when the
                # key's user may not edit issues there: compare as Redmine stores text.
                if _plain(value) != _plain(now.get(name)):
                    raise FieldRefused(
                        f"'{self.repository.name}' refused the value of field '{name}': {key} kept its old value "
                        "(the API key's user may not edit this issue's fields: check its role in the project)",
                        field=name,
                    )
                continue
            if name not in now:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field '{name}': it is not enabled for {key}'s "
                    "project and tracker",
                    field=name,
                )
            expected, shown = _text(value), now[name]
            if isinstance(value, list) or isinstance(shown, list):  # a multiple-value field: order aside
                expected, shown = _values(value), _values(shown)
            if shown != expected:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field '{name}': {key} kept {now[name]!r} "
                    f"instead of {value!r} (not allowed for the API key's user by the workflow or field permissions)",
                    field=name,
                )

    # --- names and ids -----------------------------------------------------------------

    def _pairs(self, path: str, name: str) -> list[tuple[int, str]]:
        return [(item["id"], item["name"]) for item in self.request("GET", path).json()[name]]

    def _project(self, target: Scope) -> dict:
        """The scope's project (with trackers, enabled modules and issue custom
        fields). PermanentError when it does not exist, is not visible to us, or
        does not track issues."""
        project = self._projects.get(target.project)
        if project is None:
            try:
                answer = self.request(
                    "GET",
                    f"/projects/{target.project}.json",
                    key=f"project '{target.project}'",
                    params={"include": "trackers,enabled_modules,issue_custom_fields"},
                )
            except ArtifactDeleted as exc:
                raise PermanentError(
                    f"Scope '{target.project}': project '{target.project}' does not exist in "
                    f"'{self.repository.name}' (or the API key's user cannot see it)",
                    exc.detail,
                ) from None
            project = answer.json()["project"]
            if "issue_tracking" not in [module["name"] for module in project.get("enabled_modules", [])]:
                raise PermanentError(
                    f"Scope '{target.project}': project '{target.project}' in '{self.repository.name}' does not "
                    "have issue tracking enabled"
                )
            self._projects[target.project] = project
        return project

    def _scope_tracker_id(self, target: Scope, project: dict) -> int:
        for tracker in project.get("trackers", []):
            if tracker["name"] == target.tracker:
                return tracker["id"]
        enabled = ", ".join(tracker["name"] for tracker in project.get("trackers", []))
        raise PermanentError(
            f"Scope '{target.project}/{target.tracker}': project '{target.project}' in '{self.repository.name}' "
            f"has no tracker {target.tracker!r} (its trackers: {enabled or 'none'})"
        )

    def _project_custom_fields(self, project: dict, tracker: str = "") -> dict[str, int]:
        """Issue custom fields usable in ``project`` (name → id): those enabled for
        it, those an issue of it shows, and — for administrator keys, as Redmine
        does not say which fields are for all projects — every issue custom field
        of its trackers (or of ``tracker``)."""
        fields = {field["name"]: field["id"] for field in project.get("issue_custom_fields", [])}
        answer = self.request(
            "GET", "/issues.json", params={"project_id": project["id"], "status_id": "*", "limit": 1}
        ).json()
        for issue in answer.get("issues", []):
            fields.update({field["name"]: field["id"] for field in issue.get("custom_fields", [])})
        trackers = {tracker} if tracker else {t["name"] for t in project.get("trackers", [])}
        for name, field in (self._admin_fields() or {}).items():
            if {t["name"] for t in field.get("trackers", [])} & trackers:
                fields[name] = field["id"]
        self._custom_fields.update(fields)
        return fields

    def _admin_fields(self) -> dict[str, dict] | None:
        """Every issue custom field by name (/custom_fields.json), None when the
        key may not list them (it is not an administrator's)."""
        if self._admin_custom_fields is None:
            try:
                listed = self.request("GET", "/custom_fields.json").json()["custom_fields"]
            except RepositoryError:  # 403: only administrators may list custom fields
                self._admin_custom_fields = {}
                return None
            self._admin_custom_fields = {
                field["name"]: field for field in listed if field.get("customized_type") == "issue"
            }
        return self._admin_custom_fields

    def _login(self, user_id: int, name: str) -> str:
        """The login of user ``user_id``; ``name`` (Redmine's display name) for a
        group or a user we may not see."""
        if user_id not in self._logins:
            self._load_all_users()
        if user_id not in self._logins and self._all_users is False:
            try:
                user = self.request("GET", f"/users/{user_id}.json", key=f"user {user_id}").json()["user"]
            except PermanentError:  # 404 or 403
                return name  # a group, or a user hidden from us
            self._remember_user(user)
        return self._logins.get(user_id, name)

    def _assignee_id(self, value: Any, project_id: int | None) -> int | str:
        """The id to assign for a login (or a group's name); "" for nobody."""
        if value in (None, ""):
            return ""
        value = str(value)
        self._load_all_users()
        if value in self._user_ids:
            return self._user_ids[value]
        if project_id is not None:
            principals = self._project_principals(project_id)
            if value in principals:
                return principals[value]
        if self._all_users:
            self._all_users = None  # added since: read the list once more
            self._load_all_users()
            if value in self._user_ids:
                return self._user_ids[value]
        raise FieldRefused(
            f"'{self.repository.name}' refused the value of field 'assignee': no user has the login {value!r}",
            field=ASSIGNEE,
        )

    def _load_all_users(self) -> None:
        """Every user's login, for keys that may list users (administrators)."""
        if self._all_users is not None:
            return
        try:
            for user in self.paginate(
                "/users.json",
                {"status": "", "offset": 0, "limit": PAGE_SIZE},
                items=lambda response: response.json().get("users", []),
                next_params=_next_offset("users"),
            ):
                self._remember_user(user)
        except RepositoryError:  # 403: only administrators may list users
            self._all_users = False
            return
        self._all_users = True

    def _project_principals(self, project_id: int) -> dict[str, int]:
        """Login (users) or name (groups) → id of the members of a project, for keys
        that may not list all users."""
        if project_id not in self._principals:
            principals = {}
            for member in self.paginate(
                f"/projects/{project_id}/memberships.json",
                {"offset": 0, "limit": PAGE_SIZE},
                items=lambda response: response.json().get("memberships", []),
                next_params=_next_offset("memberships"),
            ):
                if "group" in member:
                    principals[member["group"]["name"]] = member["group"]["id"]
                elif "user" in member:
                    ident = member["user"]["id"]
                    login = self._login(ident, member["user"]["name"])
                    principals[login] = ident
            self._principals[project_id] = principals
        return self._principals[project_id]

    def _remember_user(self, user: dict) -> None:
        self._logins[user["id"]] = user["login"]
        self._user_ids[user["login"]] = user["id"]

    def _overlap_seconds(self) -> int:
        value = self.settings.get("overlap_seconds", DEFAULT_OVERLAP_SECONDS)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_OVERLAP_SECONDS:
            raise PermanentError(
                f"Repository '{self.repository.name}': setting overlap_seconds must be a whole number of seconds "
                f"from 0 to {MAX_OVERLAP_SECONDS}, not {value!r}"
            )
        return value


def _next_offset(name: str) -> Callable[[httpx.Response, dict, int], dict | None]:
    """paginate()'s next_params for Redmine's offset/limit/total_count lists."""

    def following(response: httpx.Response, params: dict, count: int) -> dict | None:
        total = int(response.json().get("total_count", 0))
        offset = int(params.get("offset", 0)) + count
        return None if count == 0 or offset >= total else {**params, "offset": offset}

    return following


def _next_cursor(since: datetime | None, following: datetime | None, settled: datetime | None) -> datetime | None:
    """Where the next read starts: the first second not returned (``following``;
    None when all was), but never past the ``settled`` seconds (None: unknown, no
    issue and no clock) nor back before ``since``."""
    moments = [moment for moment in (following, settled) if moment is not None]
    moment = min(moments) if moments else since
    if since is not None and (moment is None or moment < since):
        return since
    return moment


def _whole_seconds(issues: list[dict], limit: int, complete: bool) -> tuple[list[dict], datetime | None]:
    """The issues to return (sorted by change) — whole seconds of changes, at most
    ``limit`` unless the first second alone holds more — and the second the next
    read continues from (None when every issue was returned)."""
    if len(issues) <= limit and complete:
        return issues, None
    seconds = [parse_time(issue["updated_on"]).replace(microsecond=0) for issue in issues]
    if len(issues) > limit:
        cut = seconds[limit]
        chosen = [issue for issue, second in zip(issues, seconds, strict=True) if second < cut]
        if chosen:
            return chosen, cut
    # The first second alone holds more than limit (or the read stopped early):
    # return it whole.
    first = seconds[0]
    chosen = [issue for issue, second in zip(issues, seconds, strict=True) if second == first]
    following = next((second for second in seconds if second > first), None)
    return chosen, following


def _plain(value) -> str:
    """Text as Redmine keeps it: line ends as \n, no white space around it."""
    return str(value or "").replace("\r\n", "\n").strip()
