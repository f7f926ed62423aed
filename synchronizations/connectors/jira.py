"""The Jira connector: issues of Jira Cloud (REST API v3) or Jira Server / Data
Center (REST API v2), by name. Built on HttpConnector, which maps every HTTP
failure to the engine's errors (429 and 503 with ``Retry-After`` are a
TransientError with ``retry_after``; 401 pauses the repository).

Repository
    ``base_url``: Jira's root, ``https://example.atlassian.net`` or
    ``https://jira.example.com`` (a context path such as ``/jira`` included).
    ``settings`` (all optional):

    - ``deployment``: ``"cloud"`` or ``"server"`` (Data Center is ``"server"``).
      Without it: ``"cloud"`` when the host ends in ``.atlassian.net``, else
      ``"server"`` (decided from the URL, with no call; set it for a Cloud site
      on a custom domain).
    - ``issue_type``: the issue type of new issues that name none (default: the
      project's first issue type that is not a sub-task).
    - ``overlap_seconds``: 0 to 3600, default 60 (see change detection).
    - ``page_size``: issues per search page, 1 to 100, default 100.

    Cloud authenticates with basic auth: ``username`` is the account's e-mail
    address, the secret an API token made at id.atlassian.com. Server / Data
    Center authenticates with a personal access token as the secret, sent as
    ``Authorization: Bearer``; ``username`` is not used.

Scope (one mapping side)
    ``WEB`` — the issues of project WEB; ``WEB: <JQL>`` — those of them that also
    match the JQL condition, e.g. ``WEB: labels = synced AND type = Bug`` (no
    ``ORDER BY``). New issues go to the project; a new issue that does not match
    the condition is not seen by change detection (it is linked all the same).
    Two scopes overlap when their projects are the same: whether two conditions
    can match one issue cannot be told without asking Jira, so two scopes of one
    project always overlap.

Artifacts
    ``key``: the issue key, ``WEB-12``. ``url``: ``{base_url}/browse/WEB-12``.
    Fields, by name (field maps never speak Jira's ids):

    =============== ===========================================================
    ``title``        the Summary
    ``description``  plain text: Cloud's ADF converted by connectors/adf.py
                     (paragraphs separated by blank lines, hard breaks as line
                     ends); Server's wiki text as it is; "" when empty
    ``status``       the status's name; written through a transition (below)
    ``priority``     the priority's name ("" when none)
    ``issuetype``    the issue type's name
    ``assignee``     Cloud: the user's accountId; Server: the username
                     (``name``); "" when unassigned. Cloud also takes an e-mail
                     address when writing, looked up with /user/search
    ``labels``       the labels, a sorted list
    *custom field*   each custom field under its name as /field lists it
                     (e.g. ``Customer``); an option as its value, a user as
                     above, a multi-value field as a list, Cloud's rich text as
                     plain text, "" when empty. A name two custom fields share
                     is presented and written by id (``customfield_10050``)
    =============== ===========================================================

    Display names are never used to find a user: they are not unique. Names are
    resolved by Jira itself (priority, issue type, options); a value it refuses
    is a 400 naming the field (``{"errors": {"priority": ...}}``), read back as a
    FieldRefused naming our name for it. /field is read once per connector, and
    once more when a name is missing.

Status
    Jira changes a status only by a transition: update() reads
    ``GET /issue/{key}/transitions`` and posts the one whose target status has
    the name wanted (case aside). A status no transition reaches from the current
    one is a FieldRefused naming it and the statuses that are reachable.
    create() makes the issue (in its workflow's first status) and then
    transitions it; create() cannot raise once the issue exists (the engine
    would create it again), so a status no transition reaches leaves the issue
    in its first status, as it is returned.

Version and concurrent edits
    ``version``: the issue's ``fields.updated`` as Jira writes it
    (``2024-05-01T10:00:00.123+0000``, milliseconds). Jira has no If-Match:
    update() reads the issue, raises ConflictError when its ``updated`` differs
    from ``version``, then writes (fields with one PUT, then the transition).
    Remaining race: an edit that lands between that read and our PUT (a few
    milliseconds) is overwritten in the fields we write (Jira keeps the others),
    and an edit between the PUT and the transition is not detected either.

Change detection (changed_since)
    Cursor: ``""`` (from the start) or an instant ``2024-05-01T10:00:00.123Z``:
    every change before it has been returned. Each call first reads Jira's clock
    (``/serverInfo`` ``serverTime``), then searches
    ``project = X AND (condition) AND updated >= "<minute>" ORDER BY updated ASC,
    key ASC``. JQL compares dates to the minute and reads them in the time zone
    of the API user's profile: the connector reads that zone from ``/myself``
    (``timeZone``) once per connector and writes the cursor's minute in it (on a
    wall time that a DST change makes ambiguous, an hour earlier; with a zone
    Python does not know, 12 hours earlier, which is before the cursor whatever
    the zone). The search returns the cursor's whole minute; the issues whose
    ``updated`` is before the cursor are dropped (they were returned already),
    and an issue listed twice is returned once. Pages: Cloud's
    ``/rest/api/3/search/jql`` (``nextPageToken``), Server's
    ``/rest/api/2/search`` (``startAt``/``total``); after each page the search
    starts again from the minute of the last issue read, so that an issue edited
    while the pages are read (it moves to the end) shifts no other out of them;
    only within a minute that fills a page are pages followed.

    A call returns at most ``limit`` issues, whole milliseconds of changes. The
    cursor passes only time that is over: ``overlap_seconds`` before Jira's
    clock as read before the search (down to the whole second), so that an issue whose save or indexing
    was late (Jira's search index is updated after the issue; Cloud says its
    search is eventually consistent) is still found: the issues of those last
    seconds are returned again by the next call, at the same version, and the
    engine recognises them as unchanged (same_version).

get_many
    One search ``key in (A-1, B-2, …)`` per 50 keys; a key the search does not
    return is read alone (so a deleted one is ArtifactDeleted, a moved one is
    found under its new key). Jira refuses the whole search (400) when a key
    does not exist: then each key of it is read alone.

Errors
    Those of HttpConnector. A 400 names its field in ``errors`` (Jira's field id,
    mapped back to our name). A 403 about an issue or a project (a permission
    our user lacks there) is a PermanentError for it; only one about no artifact
    pauses the repository. A search Jira refuses (400: a JQL condition it cannot
    read, a project that does not exist) is a PermanentError naming the scope.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from synchronizations.connectors import adf
from synchronizations.connectors.base import Artifact, Changes
from synchronizations.connectors.http import HttpConnector
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PartlyCreated,
    PermanentError,
    RepositoryError,
    SyncError,
)

CLOUD, SERVER = "cloud", "server"
DEFAULT_OVERLAP_SECONDS = 60
MAX_OVERLAP_SECONDS = 3600
DEFAULT_PAGE_SIZE = 100
KEYS_PER_SEARCH = 50
# Search pages one changed_since() call reads at most.
MAX_PAGES_PER_CALL = 1000
# Hours a JQL minute is moved back when the user's zone is unknown: no zone is
# further behind UTC than this.
UNKNOWN_ZONE_HOURS = 12

TITLE, DESCRIPTION, STATUS, PRIORITY, ISSUETYPE, ASSIGNEE, LABELS = (
    "title", "description", "status", "priority", "issuetype", "assignee", "labels",
)  # fmt: skip
FIXED_FIELDS = (TITLE, DESCRIPTION, STATUS, PRIORITY, ISSUETYPE, ASSIGNEE, LABELS)
# Our name -> Jira's field id, for the fixed fields.
JIRA_IDS = {
    TITLE: "summary",
    DESCRIPTION: "description",
    STATUS: "status",
    PRIORITY: "priority",
    ISSUETYPE: "issuetype",
    ASSIGNEE: "assignee",
    LABELS: "labels",
}
OUR_NAMES = {jira: ours for ours, jira in JIRA_IDS.items()}

_PROJECT = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}")
_SCOPE = re.compile(r"^\s*(?P<project>[A-Za-z][A-Za-z0-9_]{0,99})\s*(?::\s*(?P<jql>.*?))?\s*$", re.DOTALL)
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]{0,14}$")
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)
_CURSOR = "%Y-%m-%dT%H:%M:%S.%fZ"
_ORDER = " ORDER BY updated ASC, key ASC"


@dataclass(frozen=True)
class Scope:
    """A mapping side's scope on a Jira: a ``project`` key (upper case) and a JQL
    condition (``jql``, "" for the whole project)."""

    project: str
    jql: str = ""

    @classmethod
    def parse(cls, text: str) -> "Scope":
        """``KEY`` or ``KEY: <JQL condition>``. PermanentError for anything else."""
        match = _SCOPE.match(text or "")
        if not match or (match["jql"] is not None and not match["jql"].strip()):
            raise PermanentError(
                f"Scope {text!r} is not a Jira scope: write a project key (WEB), optionally followed by ': ' and "
                "a JQL condition (WEB: labels = synced)."
            )
        jql = (match["jql"] or "").strip()
        if _ORDER_BY.search(jql):
            raise PermanentError(f"Scope {text!r}: its JQL condition may not have an ORDER BY (the connector orders).")
        if not _balanced(jql):
            # The condition is put in parentheses after the project: an unbalanced
            # one could close them and reach issues of other projects.
            raise PermanentError(
                f"Scope {text!r}: its JQL condition has unbalanced parentheses or quotes; it must stand on its own "
                "inside the project's scope."
            )
        return cls(match["project"].upper(), jql)

    def search(self) -> str:
        """The JQL of the scope, without order."""
        query = f'project = "{self.project}"'
        return f"{query} AND ({self.jql})" if self.jql else query


def _balanced(jql: str) -> bool:
    """Whether ``jql``'s parentheses pair up, outside its quoted strings ('…' or "…",
    a backslash escaping the next character), and every quote is closed: a
    condition that can be put inside parentheses and stay there."""
    depth, quote, escaped = 0, "", False
    for char in jql:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not quote and not escaped


def parse_cursor(cursor: str) -> datetime | None:
    """The instant a changed_since() cursor names; None for "" or anything that is
    not one of ours (detection starts from the beginning: returning an issue again
    is safe, missing one is not)."""
    try:
        return datetime.strptime((cursor or "").strip(), _CURSOR).replace(tzinfo=UTC)
    except ValueError:
        return None


def format_cursor(moment: datetime) -> str:
    """The cursor text of ``moment`` (UTC, milliseconds)."""
    return moment.astimezone(UTC).strftime(_CURSOR)[:-4] + "Z"


def parse_time(text: str) -> datetime:
    """A Jira timestamp (``2024-05-01T10:00:00.123+0000``; seconds or an offset
    with a colon accepted too), aware. ValueError when it is not one."""
    text = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def jql_minute(moment: datetime, zone: ZoneInfo | None) -> str:
    """A JQL date (``"yyyy-MM-dd HH:mm"``) no later than ``moment``, as Jira reads
    it in the time zone ``zone`` of the API user (None: unknown, see the module's
    docstring)."""
    if zone is None:
        wall = (moment.astimezone(UTC) - timedelta(hours=UNKNOWN_ZONE_HOURS)).replace(tzinfo=None)
        return wall.strftime("%Y-%m-%d %H:%M")
    wall = moment.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    for _ in range(3):
        instants = [wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)]
        if max(instants) <= moment:
            break
        wall -= timedelta(hours=1)  # an ambiguous wall time: Jira may read the later one
    return wall.strftime("%Y-%m-%d %H:%M")


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _messages(response: httpx.Response) -> tuple[list[str], dict[str, str]]:
    """Jira's error body ``{"errorMessages": [...], "errors": {field: message}}``."""
    try:
        body = response.json()
    except ValueError:
        return [], {}
    if not isinstance(body, dict):
        return [], {}
    messages = body.get("errorMessages") if isinstance(body.get("errorMessages"), list) else []
    errors = body.get("errors") if isinstance(body.get("errors"), dict) else {}
    return [str(m) for m in messages], {str(k): str(v) for k, v in errors.items()}


class JiraConnector(HttpConnector):
    """Issues of a Jira Cloud or Server / Data Center site, by name (see the
    module's documentation for the settings, scope, fields, version and cursor)."""

    kind = "jira"

    def __init__(self, repository):
        super().__init__(repository)
        self.deployment = self._deployment()
        self.api = "/rest/api/3" if self.deployment == CLOUD else "/rest/api/2"
        overlap = self.whole_number_setting("overlap_seconds", DEFAULT_OVERLAP_SECONDS, 0, MAX_OVERLAP_SECONDS)
        self.overlap = timedelta(seconds=overlap)
        self.page_size = self.whole_number_setting("page_size", DEFAULT_PAGE_SIZE, 1, 100)
        issue_type = self.settings.get("issue_type", "")
        if not isinstance(issue_type, str):
            raise PermanentError(f"Repository '{repository.name}': setting issue_type must be an issue type's name")
        self.issue_type = issue_type.strip()
        self._fields_by_id: dict[str, dict] | None = None  # /field: id -> field
        self._names: tuple[dict[str, dict], dict[str, str]] | None = None  # (name -> field, id -> name)
        self._fields_reloaded = False
        self._projects: dict[str, dict] = {}
        self._zone: ZoneInfo | bool | None = False  # False: not read yet
        self._accounts: dict[str, str] = {}  # e-mail (casefolded) -> accountId

    # --- what HttpConnector asks of us -------------------------------------------------

    def auth(self) -> httpx.Auth | None:
        if self.deployment == CLOUD:
            return httpx.BasicAuth(self.repository.username, self.repository.secret_value())
        return None

    def headers(self) -> dict[str, str]:
        if self.deployment == SERVER:
            return {"Authorization": f"Bearer {self.repository.secret_value()}"}
        return {}

    def refused_field(self, response: httpx.Response) -> tuple[str, str]:
        """The field a 400 names (the first key of ``errors``, as our name) and
        everything Jira said."""
        messages, errors = _messages(response)
        said = "; ".join([*messages, *(f"{field}: {message}" for field, message in errors.items())])
        said = said or response.text[:300]
        for field in errors:
            return self._our_name(field), said
        return "", said

    def forbidden(self, response: httpx.Response, key: str | None, detail: str) -> Exception:
        """A 403 about an issue or a project is its own PermanentError; only one
        about no artifact pauses the repository."""
        if key:
            messages, _ = _messages(response)
            said = "; ".join(messages) or "our user lacks the permission there"
            return PermanentError(f"'{self.repository.name}' denied us access to {key} (HTTP 403): {said}", detail)
        return super().forbidden(response, key, detail)

    # --- the interface -----------------------------------------------------------------

    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        target = Scope.parse(scope)
        since = parse_cursor(cursor)
        limit = max(1, int(limit))
        clock = self._clock()
        zone = self._user_zone()
        found: dict[str, dict] = {}
        start, token, complete = since, None, False
        for _ in range(MAX_PAGES_PER_CALL):
            jql = target.search()
            if start is not None:
                jql += f' AND updated >= "{jql_minute(start, zone)}"'
            issues, following = self._search_page(jql + _ORDER, token, scope=scope)
            for issue in issues:
                moment = self._updated(issue)
                if since is not None and moment < since:
                    continue  # the cursor's minute, before the cursor: returned already
                known = found.get(issue["key"])
                if known is None or moment >= self._updated(known):
                    found[issue["key"]] = issue
            if following is None or not issues:
                complete = True
                break
            if len(found) > limit:
                break
            last = _minute(self._updated(issues[-1]))
            if start is None or last > _minute(start):
                start, token = last, None  # on from the last minute read: a fresh search
            else:
                token = following  # one minute fills the page: follow the pages
        ordered = sorted(found.values(), key=lambda issue: (self._updated(issue), issue["key"]))
        chosen, following_moment = _whole_instants(ordered, limit, complete, self._updated)
        if not complete and following_moment is None:
            raise PermanentError(
                f"'{self.repository.name}': more than {MAX_PAGES_PER_CALL} pages of issues of scope '{scope}' "
                "changed within one minute"
            )
        # Whole seconds: a cursor that crept with the clock would never stay put.
        settled = (clock - self.overlap).replace(microsecond=0) if clock else None
        moments = [moment for moment in (following_moment, settled) if moment is not None]
        moment = min(moments) if moments else since
        if since is not None and (moment is None or moment < since):
            moment = since
        return Changes([self._artifact(issue) for issue in chosen], format_cursor(moment) if moment else "")

    def get(self, key: str) -> Artifact:
        return self._artifact(self._read(key))

    def get_many(self, keys: list[str]) -> dict:
        """One search per KEYS_PER_SEARCH keys (see the module's docstring)."""
        results: dict = {}
        valid = [key for key in dict.fromkeys(keys) if _KEY.match(key or "")]
        for key in keys:
            if key not in valid:
                results[key] = ArtifactDeleted(key, self.repository.name, "Jira keys are like WEB-12")
        for start in range(0, len(valid), KEYS_PER_SEARCH):
            chunk = valid[start : start + KEYS_PER_SEARCH]
            try:
                issues, _ = self._search_page(f"key in ({', '.join(chunk)})", None, size=len(chunk))
            except FieldRefused:  # a key that does not exist: Jira refuses the whole search
                issues = []
            by_key = {issue["key"]: issue for issue in issues}
            for key in chunk:
                if key in by_key:
                    results[key] = self._artifact(by_key[key])
                else:
                    results.update(super().get_many([key]))
        return results

    def create(self, scope: str, fields: dict) -> Artifact:
        target = Scope.parse(scope)
        project = self._project(target.project)
        payload = self._payload(fields)
        payload["project"] = {"key": target.project}
        if "issuetype" not in payload:
            payload["issuetype"] = {"name": self._default_issue_type(project)}
        answer = self.request("POST", f"{self.api}/issue", key=f"project '{target.project}'", json={"fields": payload})
        key = answer.json()["key"]
        try:
            created = self._read(key)
        except SyncError:
            # The issue exists: raising now would have the engine create it again.
            return Artifact(key, dict(fields), "", self.url(key), datetime.now(UTC))
        status = fields.get(STATUS)
        if status not in (None, "") and not _same_name(created["fields"]["status"]["name"], status):
            try:
                self._transition(key, created, str(status))
                created = self._read(key)
            except SyncError as exc:
                # Linked all the same; the status is written again, as an update,
                # by the next processing (errors.PartlyCreated).
                raise PartlyCreated(self._artifact(created), exc, [STATUS]) from exc
        artifact = self._artifact(created)
        if target.jql and not self._matches(key, target):
            # Change detection searches the scope: an issue outside its condition
            # would never be read again, its edits never carried.
            raise PartlyCreated(
                artifact,
                PermanentError(
                    f"{key} was created in '{self.repository.name}' but does not match the scope's condition "
                    f"({target.jql}): change detection will not see its edits. Map fields so that new issues "
                    "match it (e.g. a label), or use a scope without a condition; then Retry."
                ),
                [],
            )
        return artifact

    def _matches(self, key: str, target: "Scope") -> bool:
        """Whether issue ``key`` is in ``target``'s search (one search of one issue)."""
        issues, _ = self._search_page(f"key = {key} AND ({target.jql})", None, size=1, scope=str(target.jql))
        return bool(issues)

    def update(self, key: str, fields: dict, version: str) -> Artifact:
        current = self._read(key)
        now = current["fields"].get("updated") or ""
        if not version or now != version:
            raise ConflictError(
                f"{key} changed in '{self.repository.name}' since it was read",
                f"version read: {version}; version now: {now}",
            )
        payload = self._payload(fields)
        status = fields.get(STATUS)
        moves = status not in (None, "") and not _same_name(current["fields"]["status"]["name"], status)
        if moves and payload:
            # A status no transition reaches refuses the whole write: nothing of it
            # is written (the other fields would be, were it checked after them).
            self._transition_to(key, current, str(status))
        if payload:
            self.request("PUT", f"{self.api}/issue/{key}", key=key, json={"fields": payload})
        if moves:
            self._transition(key, current, str(status))
        return self.get(key)

    def url(self, key: str) -> str:
        return f"{self.base_url}/browse/{key}"

    def ping(self) -> None:
        """Reads our own user (``/myself``), and remembers its time zone."""
        self._zone = _zone_of(self.request("GET", f"{self.api}/myself").json())

    parse_scope = staticmethod(Scope.parse)

    @staticmethod
    def scopes_overlap(a: str, b: str) -> bool:
        """Scopes of the same project overlap, whatever their JQL conditions
        (which cannot be compared offline); scopes of two projects do not. A text
        that is not a scope overlaps only the same text."""
        try:
            first, second = Scope.parse(a), Scope.parse(b)
        except PermanentError:
            return (a or "").strip() == (b or "").strip()
        return first.project == second.project

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """Problems of a mapping side: the scope's syntax, its project, its JQL
        condition (a search Jira refuses), and each field (a fixed one or a
        custom field's name). Raises as ping() does."""
        self.ping()
        try:
            target = Scope.parse(scope)
            self._project(target.project)
            if target.jql:
                self._search_page(target.search(), None, size=1, scope=scope)
        except (PermanentError, RepositoryError) as exc:
            return [exc.message]
        problems = []
        names = self._custom_names(reload=True)
        for name in fields:
            if name not in FIXED_FIELDS and name not in names:
                problems.append(
                    f"Scope '{scope}': there is no field {name!r}; Jira fields are {', '.join(FIXED_FIELDS)} and "
                    f"the custom fields by name ({', '.join(sorted(names)) or 'none'})."
                )
        return problems

    # --- reading -----------------------------------------------------------------------

    def _read(self, key: str) -> dict:
        if not _KEY.match(key or ""):
            raise ArtifactDeleted(key, self.repository.name, "Jira keys are like WEB-12")
        return self.request("GET", f"{self.api}/issue/{key}", key=key, params={"fields": "*all"}).json()

    def _search_page(self, jql: str, token: Any, *, size: int | None = None, scope: str = "") -> tuple[list, Any]:
        """One page of a search: its issues and what reads the next page (Cloud's
        ``nextPageToken``, Server's next ``startAt``; None after the last). A
        refused search of a scope is a PermanentError naming the scope."""
        params: dict[str, Any] = {"jql": jql, "maxResults": size or self.page_size, "fields": "*all"}
        if self.deployment == CLOUD:
            path = f"{self.api}/search/jql"
            if token:
                params["nextPageToken"] = token
        else:
            path = f"{self.api}/search"
            params["startAt"] = int(token or 0)
        try:
            body = self.request("GET", path, params=params).json()
        except FieldRefused as exc:
            if not scope:
                raise
            raise PermanentError(
                f"Scope '{scope}': '{self.repository.name}' refused its search ({exc.message.split(': ', 1)[-1]})",
                exc.detail,
            ) from None
        issues = [issue for issue in body.get("issues") or [] if isinstance(issue, dict) and "key" in issue]
        if self.deployment == CLOUD:
            following = body.get("nextPageToken") if not body.get("isLast", True) else None
        else:
            position = int(body.get("startAt", token or 0)) + len(issues)
            following = position if issues and position < int(body.get("total", 0)) else None
        return issues, following

    def _artifact(self, issue: dict) -> Artifact:
        key = issue["key"]
        version = issue["fields"].get("updated") or ""
        return Artifact(key, self._fields(issue), version, self.url(key), self._updated(issue))

    def _fields(self, issue: dict) -> dict:
        values = issue.get("fields") or {}
        assignee = values.get("assignee")
        fields = {
            TITLE: values.get("summary") or "",
            DESCRIPTION: adf.to_text(values.get("description")),
            STATUS: _name(values.get("status")),
            PRIORITY: _name(values.get("priority")),
            ISSUETYPE: _name(values.get("issuetype")),
            ASSIGNEE: self._user(assignee) if assignee else "",
            LABELS: sorted(str(label) for label in values.get("labels") or []),
        }
        for field_id, value in values.items():
            if not field_id.startswith("customfield_"):
                continue
            name = self._our_name(field_id)
            if name not in fields:
                fields[name] = self._present(value)
        return fields

    def _present(self, value: Any) -> Any:
        """A custom field's value as presented (see the module's docstring)."""
        if value is None:
            return ""
        if isinstance(value, list):
            return [self._present(item) for item in value]
        if isinstance(value, dict):
            if value.get("type") == "doc":
                return adf.to_text(value)
            if "accountId" in value or ("name" in value and "emailAddress" in value):
                return self._user(value)
            for attribute in ("value", "name", "key"):
                if attribute in value:
                    return value[attribute]
        return value

    def _user(self, user: dict) -> str:
        return str(user.get("accountId") if self.deployment == CLOUD else user.get("name") or "")

    def _updated(self, issue: dict) -> datetime:
        try:
            return parse_time(str(issue["fields"]["updated"]))
        except (KeyError, TypeError, ValueError):
            raise PermanentError(
                f"'{self.repository.name}' answered issue {issue.get('key')} without a readable 'updated'"
            ) from None

    def _clock(self) -> datetime | None:
        """Jira's clock (``serverTime`` of /serverInfo; its Date header without it)."""
        response = self.request("GET", f"{self.api}/serverInfo")
        try:
            return parse_time(str(response.json()["serverTime"]))
        except (ValueError, KeyError, TypeError):
            try:
                moment = parsedate_to_datetime(response.headers.get("Date", ""))
            except (TypeError, ValueError, IndexError):
                return None
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def _user_zone(self) -> ZoneInfo | None:
        if self._zone is False:
            self.ping()
        return self._zone or None

    # --- writing -----------------------------------------------------------------------

    def _payload(self, fields: dict) -> dict:
        """Jira's ``fields`` object for ``fields`` (all but the status). FieldRefused
        for a field Jira does not have here, before anything is written."""
        payload: dict[str, Any] = {}
        for name, value in fields.items():
            if name == STATUS:
                continue
            if name == TITLE:
                payload["summary"] = "" if value is None else str(value)
            elif name == DESCRIPTION:
                text = "" if value is None else str(value)
                payload["description"] = adf.from_text(text) if self.deployment == CLOUD else (text or None)
            elif name in (PRIORITY, ISSUETYPE):
                payload[JIRA_IDS[name]] = {"name": str(value)} if value not in (None, "") else None
            elif name == ASSIGNEE:
                payload["assignee"] = self._assignee(value)
            elif name == LABELS:
                payload["labels"] = self._labels(value)
            else:
                field = self._custom_field(name)
                payload[field["id"]] = self._custom_value(field, value)
        return payload

    def _labels(self, value: Any) -> list[str]:
        if value in (None, ""):
            return []
        items = value if isinstance(value, list) else [value]
        labels = sorted({str(item) for item in items if item not in (None, "")})
        spaced = [label for label in labels if any(c.isspace() for c in label)]
        if spaced:
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field 'labels': a Jira label has no spaces "
                f"({', '.join(map(repr, spaced))})",
                field=LABELS,
            )
        return labels

    def _assignee(self, value: Any) -> dict | None:
        if value in (None, ""):
            return None
        value = str(value).strip()
        if self.deployment == SERVER:
            return {"name": value}
        if "@" in value:
            return {"accountId": self._account_id(value)}
        return {"accountId": value}

    def _account_id(self, address: str) -> str:
        """The accountId of the Cloud user with e-mail ``address`` (/user/search);
        FieldRefused when no user, or more than one, has it."""
        folded = address.casefold()
        if folded not in self._accounts:
            users = self.request("GET", f"{self.api}/user/search", params={"query": address}).json()
            users = [user for user in users if isinstance(user, dict) and user.get("accountId")]
            exact = [user for user in users if str(user.get("emailAddress", "")).casefold() == folded]
            # Cloud hides e-mail addresses by the users' privacy settings: one match is taken.
            chosen = exact or (users if len(users) == 1 else [])
            if len(chosen) != 1:
                raise FieldRefused(
                    f"'{self.repository.name}' refused the value of field 'assignee': "
                    f"{'no user' if not chosen else 'more than one user'} has the e-mail address {address!r}",
                    field=ASSIGNEE,
                )
            self._accounts[folded] = chosen[0]["accountId"]
        return self._accounts[folded]

    def _custom_value(self, field: dict, value: Any) -> Any:
        """A custom field's value as Jira takes it, by the field's schema."""
        schema = field.get("schema") or {}
        kind, items = schema.get("type"), schema.get("items")
        if value in (None, "", []):
            return [] if kind == "array" else None
        if kind == "option":
            return {"value": str(value)}
        if kind == "user":
            return self._assignee(value)
        if kind == "array":
            values = value if isinstance(value, list) else [value]
            if items == "option":
                return [{"value": str(item)} for item in values]
            if items == "user":
                return [self._assignee(item) for item in values]
            return [str(item) for item in values]
        if kind == "string" and self.deployment == CLOUD and str(schema.get("custom", "")).endswith(":textarea"):
            return adf.from_text(str(value))
        return value

    def _transition(self, key: str, issue: dict, status: str) -> None:
        """Takes ``key`` to ``status`` by the transition that reaches it (see the
        module's docstring); FieldRefused when none does."""
        path = f"{self.api}/issue/{key}/transitions"
        transition = self._transition_to(key, issue, status)
        self.request("POST", path, key=key, json={"transition": {"id": transition}})

    def _transition_to(self, key: str, issue: dict, status: str) -> str:
        """The id of the transition that takes ``key`` (as read: ``issue``) to
        ``status`` now; FieldRefused naming the reachable statuses when none does."""
        path = f"{self.api}/issue/{key}/transitions"
        transitions = self.request("GET", path, key=key).json().get("transitions") or []
        for transition in transitions:
            if _same_name(_name(transition.get("to")), status):
                return str(transition["id"])
        reachable = sorted({_name(t.get("to")) for t in transitions if _name(t.get("to"))})
        raise FieldRefused(
            f"'{self.repository.name}' refused the value of field 'status': no transition takes {key} from "
            f"{_name(issue['fields'].get('status'))!r} to {status!r} (reachable: {', '.join(reachable) or 'none'})",
            field=STATUS,
        )

    # --- names and ids -----------------------------------------------------------------

    def _known_fields(self, reload: bool = False) -> dict[str, dict]:
        """Every field of /field by id, read once (and again on ``reload`` once)."""
        if self._fields_by_id is None or (reload and not self._fields_reloaded):
            if self._fields_by_id is not None:
                self._fields_reloaded = True
            listed = self.request("GET", f"{self.api}/field").json()
            self._fields_by_id = {field["id"]: field for field in listed if isinstance(field, dict) and "id" in field}
            self._names = None
        return self._fields_by_id

    def _custom_names(self, reload: bool = False) -> dict[str, dict]:
        """Custom fields by the name they are presented under (their name, or their
        id when two share a name)."""
        known = self._known_fields(reload)
        if self._names is None:
            custom = [field for field in known.values() if str(field["id"]).startswith("customfield_")]
            counts: dict[str, int] = {}
            for field in custom:
                counts[str(field.get("name", ""))] = counts.get(str(field.get("name", "")), 0) + 1
            names = {}
            for field in custom:
                name = str(field.get("name", ""))
                names[name if counts[name] == 1 and name not in FIXED_FIELDS else field["id"]] = field
            self._names = (names, {field["id"]: name for name, field in names.items()})
        return self._names[0]

    def _custom_field(self, name: str) -> dict:
        names = self._custom_names()
        if name not in names:
            names = self._custom_names(reload=True)
        if name not in names:
            raise FieldRefused(
                f"'{self.repository.name}' refused the value of field '{name}': no such field here (fields: "
                f"{', '.join(FIXED_FIELDS)}, {', '.join(sorted(names)) or 'no custom fields'})",
                field=name,
            )
        return names[name]

    def _our_name(self, field_id: str) -> str:
        """Our name for Jira's field ``field_id`` (as a 400's ``errors`` names it)."""
        if field_id in OUR_NAMES:
            return OUR_NAMES[field_id]
        self._custom_names()
        return self._names[1].get(field_id, field_id)

    def _project(self, key: str) -> dict:
        """Project ``key`` (with its issue types); PermanentError when it does not
        exist or our user cannot see it."""
        if key not in self._projects:
            try:
                answer = self.request("GET", f"{self.api}/project/{key}", key=f"project '{key}'")
            except ArtifactDeleted as exc:
                raise PermanentError(
                    f"Scope '{key}': project '{key}' does not exist in '{self.repository.name}' (or our user cannot "
                    "see it)",
                    exc.detail,
                ) from None
            self._projects[key] = answer.json()
        return self._projects[key]

    def _default_issue_type(self, project: dict) -> str:
        if self.issue_type:
            return self.issue_type
        for issue_type in project.get("issueTypes") or []:
            if not issue_type.get("subtask"):
                return str(issue_type.get("name"))
        raise PermanentError(
            f"Project '{project.get('key')}' in '{self.repository.name}' has no issue type for new issues "
            "(set issue_type in the repository's settings)"
        )

    # --- settings ----------------------------------------------------------------------

    def _deployment(self) -> str:
        value = self.settings.get("deployment")
        if value is None:
            host = (urlsplit(self.base_url).hostname or "").lower()
            return CLOUD if host.endswith(".atlassian.net") else SERVER
        if value not in (CLOUD, SERVER):
            raise PermanentError(
                f'Repository \'{self.repository.name}\': setting deployment must be "cloud" or "server" '
                f'(Data Center is "server"), not {value!r}'
            )
        return value


def _name(value: Any) -> str:
    return str(value.get("name") or "") if isinstance(value, dict) else ""


def _same_name(a: str, b: Any) -> bool:
    return a.casefold() == str(b).casefold()


def _zone_of(user: dict) -> ZoneInfo | None:
    """The time zone of a /myself answer; None when it names none Python knows."""
    try:
        return ZoneInfo(str(user.get("timeZone") or ""))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _whole_instants(issues: list[dict], limit: int, complete: bool, updated) -> tuple[list[dict], datetime | None]:
    """The issues to return (sorted by change): whole instants, at most ``limit``
    unless the first instant alone holds more; and the instant the next read
    starts from (None when all were returned)."""
    if len(issues) <= limit and complete:
        return issues, None
    if not issues:
        return [], None
    moments = [updated(issue) for issue in issues]
    if len(issues) > limit:
        cut = moments[limit]
        chosen = [issue for issue, moment in zip(issues, moments, strict=True) if moment < cut]
        if chosen:
            return chosen, cut
    first = moments[0]
    chosen = [issue for issue, moment in zip(issues, moments, strict=True) if moment == first]
    following = next((moment for moment in moments if moment > first), None)
    return chosen, following
