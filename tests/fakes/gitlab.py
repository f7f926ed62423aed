"""A stateful fake of GitLab's REST API v4 (issues and what they name), in-process,
built from GitLab's documentation (doc/api/issues.md, labels.md, milestones.md,
users.md, personal_access_tokens.md, rest/_index.md, and the administration page on
user and IP rate limits). What it does, as GitLab documents or does it:

- Everything under ``{prefix}/api/v4`` (``prefix`` "" or a self-managed sub-path
  such as "/gitlab"); a project is named by its numeric id or its URL-encoded path
  (``group%2Fsub%2Fproject``; an unencoded path matches no route: 404). A moved
  project's old path answers GET with a 301 to ``/api/v4/projects/<id>`` and other
  methods with 405 ("Non GET methods are not allowed for moved projects").
- Authentication by ``PRIVATE-TOKEN`` (or ``Authorization: Bearer``): none or an
  unknown token is 401 ``{"message": "401 Unauthorized"}``; a ``read_api`` token
  writing is 403 ``{"error": "insufficient_scope", ...}``. A private project the
  user is no member of is 404 ``{"message": "404 Project Not Found"}``; a project
  with issues turned off answers 403 ``{"message": "403 Forbidden"}``.
- Issue lists: ``per_page`` (default 20, at most 100), ``page``; headers
  ``x-page``, ``x-per-page``, ``x-next-page``, ``x-prev-page``, ``x-total``,
  ``x-total-pages`` and ``Link`` (no total nor ``rel="last"`` past 10,000 items);
  ``order_by`` created_at / updated_at (default created_at), ``sort`` asc / desc
  (default desc), ties by id; ``state``, ``iids[]``, ``updated_after`` /
  ``updated_before`` (inclusive, ISO 8601; an unreadable one is 400
  ``{"error": "updated_after is invalid"}``).
- Times are kept to the microsecond, as GitLab's database does, and shown to the
  millisecond (``2016-01-04T15:31:51.081Z``), as its JSON does: filters compare
  the microseconds.
- Writes: ``title`` (required on create; 255 characters at most), ``description``
  (1,048,576 at most), ``labels`` (comma-separated; a label that does not exist is
  created in the project, as GitLab does), ``assignee_ids`` (users unknown or unable
  to see the project are dropped without a word; on GitLab Free,
  ``multiple_assignees=False``, only the first is kept), ``milestone_id`` (0 or
  empty: none; one not available to the project is dropped without a word),
  ``state_event`` close / reopen (ignored on create). A validation failure is 400
  ``{"message": {"field": ["..."]}}``, a missing parameter 400
  ``{"error": "title is missing"}``. A Guest may create issues but not edit other
  people's (403). ``updated_at`` moves only when something changed.
- Rate limit (``rate_limit(limit, period)``): every answer carries ``RateLimit-*``
  headers; past the limit, 429 with the plain text "Retry later", ``Retry-After``,
  ``RateLimit-Reset`` (Unix time) and ``RateLimit-ResetTime`` (HTTP date).

Helpers a test calls directly (no HTTP): ``add_user``, ``add_token``,
``add_project``, ``move_project``, ``add_label``, ``add_milestone``, ``edit`` (an
edit by someone else), ``delete_issue``, ``rate_limit``; ``clock`` (a callable giving
the time every write takes) may be replaced to put several writes in one instant,
and ``after_list`` (a callable) runs after each issue list is answered.
"""

import itertools
import math
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote, unquote, urlencode

from tests.fakes import FakeTracker, Request, Response, route

API = "/api/v4"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20
# GitLab leaves the totals out of a list longer than this (rest/_index.md).
COUNTED_AT_MOST = 10_000
TITLE_MAX = 255
DESCRIPTION_MAX = 1_048_576
GUEST, PLANNER, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 15, 20, 30, 40, 50
INSUFFICIENT_SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "api",
}
_PROJECT = rf"{API}/projects/(?P<project>[^/]+)"


def show_time(moment: datetime | None) -> str | None:
    """A time as GitLab's JSON shows it: UTC, to the millisecond."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def read_time(text: str) -> datetime | None:
    """An ISO 8601 time as GitLab's ``datetime`` parameters take it; None if unreadable."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Project:
    id: int
    path: str  # path_with_namespace, as its owner spells it
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level
    visibility: str = "private"
    issues_enabled: bool = True
    labels: dict[str, int] = field(default_factory=dict)  # name -> label id
    milestones: dict[int, str] = field(default_factory=dict)  # milestone id -> title
    issues: dict[int, dict] = field(default_factory=dict)  # iid -> issue (times as datetimes)
    next_iid: int = 1


class FakeGitLab(FakeTracker):
    """GitLab's REST API v4 for issues, with users, tokens, projects, labels and
    milestones (see the module's docstring). ``url`` + ``prefix`` is the instance's
    external URL: what a Repository's ``base_url`` names."""

    def __init__(self, prefix: str = "", *, multiple_assignees: bool = False):
        super().__init__()
        self.prefix = prefix.rstrip("/")
        self.multiple_assignees = multiple_assignees
        self.users: dict[int, dict] = {}
        self.tokens: dict[str, dict] = {}
        self.projects: dict[int, Project] = {}
        self.routes_by_path: dict[str, int] = {}  # lower-cased path -> project id
        self.redirects: dict[str, int] = {}  # lower-cased old path -> project id
        self.group_milestones: dict[int, tuple[str, str]] = {}  # id -> (group path, title)
        self.group_labels: dict[str, dict[str, int]] = {}  # group path -> name -> id
        self.ids = itertools.count(1)
        self.clock = lambda: datetime.now(UTC)
        # Called (with the project) after each issue list is answered: a test edits
        # issues while a connector reads the list.
        self.after_list = None
        self.limit: tuple[int, float] | None = None
        self.window: tuple[float, int] = (0.0, 0)  # (start, requests in it)

    @property
    def external_url(self) -> str:
        return self.url + self.prefix

    # --- what a test sets up directly ---------------------------------------------

    def add_user(self, username: str, *, bot: bool = False) -> dict:
        with self.lock:
            ident = next(self.ids)
            user = {
                "id": ident,
                "username": username,
                "name": username.title(),
                "state": "active",
                "locked": False,
                "avatar_url": None,
                "web_url": f"{self.external_url}/{username}",
                "bot": bot,
            }
            self.users[ident] = user
            return user

    def add_token(self, username: str, scopes: tuple[str, ...] = ("api",)) -> str:
        """A new personal access token of ``username``; its text."""
        with self.lock:
            user = self._user_named(username)
            text = f"glpat-{next(self.ids):020d}"
            self.tokens[text] = {
                "id": next(self.ids),
                "name": f"syncweb {len(self.tokens) + 1}",
                "revoked": False,
                "created_at": show_time(self.clock()),
                "scopes": list(scopes),
                "user_id": user["id"],
                "last_used_at": None,
                "active": True,
                "expires_at": None,
            }
            return text

    def add_project(self, path: str, members: dict[str, int] | None = None, **options) -> Project:
        """A project at ``path`` (``group/sub/name``); ``members``: username -> level."""
        with self.lock:
            project = Project(id=next(self.ids), path=path, **options)
            for username, level in (members or {}).items():
                project.members[self._user_named(username)["id"]] = level
            self.projects[project.id] = project
            self.routes_by_path[path.lower()] = project.id
            return project

    def move_project(self, project: Project, new_path: str) -> None:
        """Renames or transfers ``project``: its old path redirects, as GitLab's does."""
        with self.lock:
            self.routes_by_path.pop(project.path.lower(), None)
            self.redirects[project.path.lower()] = project.id
            project.path = new_path
            self.routes_by_path[new_path.lower()] = project.id

    def add_label(self, project: Project | None, name: str, *, group: str = "") -> int:
        """A label of ``project``, or of group ``group`` (seen by its projects)."""
        with self.lock:
            ident = next(self.ids)
            if group:
                self.group_labels.setdefault(group, {})[name] = ident
            else:
                project.labels[name] = ident
            return ident

    def add_milestone(self, project: Project | None, title: str, *, group: str = "") -> int:
        """A milestone of ``project``, or of group ``group`` (seen by its projects)."""
        with self.lock:
            ident = next(self.ids)
            if group:
                self.group_milestones[ident] = (group, title)
            else:
                project.milestones[ident] = title
            return ident

    def edit(self, project: Project, iid: int, **changes) -> dict:
        """An edit by someone else (no HTTP): ``changes`` of the stored issue
        (``title``, ``description``, ``state``, ``labels``, ``assignee_ids``,
        ``milestone_id``); its ``updated_at`` moves."""
        with self.lock:
            issue = project.issues[iid]
            issue.update(changes)
            issue["updated_at"] = self._now(issue["updated_at"])
            return issue

    def delete_issue(self, project: Project, iid: int) -> None:
        with self.lock:
            del project.issues[iid]

    def rate_limit(self, limit: int, period: float = 60.0) -> None:
        """At most ``limit`` requests each ``period`` seconds, then 429s."""
        with self.lock:
            self.limit = (limit, period)
            self.window = (time.time(), 0)

    # --- the server ---------------------------------------------------------------

    def not_found_body(self, request: Request) -> object:
        return {"error": "404 Not Found"}

    def dispatch(self, request: Request) -> Response:
        with self.lock:
            self.seen.append(request)
            if self.faults:
                return self.faults.pop(0)
            if not request.path.startswith(self.prefix + API + "/"):
                return Response(404, self.not_found_body(request))
            request = replace(request, path=request.path[len(self.prefix) :])
            limited = self._count_request()
            if limited is not None:
                return limited
            response = self._answer(request)
            response.headers.update(self._rate_headers())
            return response

    def _answer(self, request: Request) -> Response:
        token = request.headers.get("private-token") or ""
        bearer = request.headers.get("authorization", "")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:]
        record = self.tokens.get(token)
        if record is None or not record["active"]:
            return Response(401, {"message": "401 Unauthorized"})
        if request.method != "GET" and "api" not in record["scopes"]:
            return Response(403, INSUFFICIENT_SCOPE)
        request.headers["x-fake-user"] = str(record["user_id"])
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                request.params = match.groupdict()
                try:
                    return handler(request)
                except _Refusal as refusal:
                    return refusal.response
                except Exception as exc:  # a bug in the fake: say it like a server
                    return Response(500, {"message": f"fake failed: {exc!r}"})
        return Response(404, self.not_found_body(request))

    def _count_request(self) -> Response | None:
        if self.limit is None:
            return None
        limit, period = self.limit
        start, count = self.window
        now = time.time()
        if now - start >= period:
            start, count = now, 0
        count += 1
        self.window = (start, count)
        if count <= limit:
            return None
        headers = self._rate_headers()
        headers["Retry-After"] = str(max(1, math.ceil(start + period - now)))
        headers["Content-Type"] = "text/plain"
        return Response(429, "Retry later", headers)

    def _rate_headers(self) -> dict[str, str]:
        if self.limit is None:
            return {}
        limit, period = self.limit
        start, count = self.window
        reset = start + period
        return {
            "RateLimit-Name": "throttle_authenticated_api",
            "RateLimit-Limit": str(limit),
            "RateLimit-Observed": str(count),
            "RateLimit-Remaining": str(max(0, limit - count)),
            "RateLimit-Reset": str(math.ceil(reset)),
            "RateLimit-ResetTime": format_datetime(datetime.fromtimestamp(math.ceil(reset), UTC), usegmt=True),
        }

    # --- routes ---------------------------------------------------------------------

    @route("GET", rf"{API}/user")
    def current_user(self, request: Request) -> Response:
        return Response(200, self._user_json(self._me(request), full=True))

    @route("GET", rf"{API}/personal_access_tokens/self")
    def token_self(self, request: Request) -> Response:
        token = request.headers.get("private-token") or request.headers.get("authorization", "")[7:]
        return Response(200, self.tokens[token])

    @route("GET", rf"{API}/users")
    def list_users(self, request: Request) -> Response:
        username = (request.arg("username") or "").lower()
        found = [self._user_json(u) for u in self.users.values() if not username or u["username"].lower() == username]
        return self._page(request, found)

    @route("GET", _PROJECT)
    def get_project(self, request: Request) -> Response:
        project = self._project(request)
        me = self._me(request)
        level = project.members.get(me["id"])
        body = {
            "id": project.id,
            "name": project.path.rsplit("/", 1)[-1],
            "path": project.path.rsplit("/", 1)[-1],
            "path_with_namespace": project.path,
            "name_with_namespace": project.path.replace("/", " / "),
            "namespace": {"full_path": project.path.rsplit("/", 1)[0], "kind": "group"},
            "web_url": f"{self.external_url}/{project.path}",
            "visibility": project.visibility,
            "issues_enabled": project.issues_enabled,
            "issues_access_level": "enabled" if project.issues_enabled else "disabled",
            "permissions": {
                "project_access": {"access_level": level, "notification_level": 3} if level else None,
                "group_access": None,
            },
        }
        return Response(200, body)

    @route("GET", rf"{_PROJECT}/labels")
    def list_labels(self, request: Request) -> Response:
        project = self._project(request)
        search = (request.arg("search") or "").lower()
        labels = [
            {"id": ident, "name": name, "color": "#428BCA", "description": None, "text_color": "#FFFFFF"}
            | {"is_project_label": own}
            for name, ident, own in self._available_labels(project)
            if search in name.lower()
        ]
        return self._page(request, sorted(labels, key=lambda label: label["name"].lower()))

    @route("GET", rf"{_PROJECT}/milestones")
    def list_milestones(self, request: Request) -> Response:
        project = self._project(request)
        title = request.arg("title")
        ancestors = (request.arg("include_ancestors") or "").lower() == "true"
        found = []
        for ident, (owner, name) in self._available_milestones(project).items():
            if owner != "project" and not ancestors:
                continue
            if title is not None and name != title:
                continue
            found.append({"id": ident, "iid": ident, "title": name, "state": "active", "description": ""})
        return self._page(request, found)

    @route("GET", rf"{_PROJECT}/issues")
    def list_issues(self, request: Request) -> Response:
        project = self._project(request, issues=True)
        issues = list(project.issues.values())
        state = request.arg("state") or "all"
        if state not in ("opened", "closed", "all"):
            raise _Refusal(Response(400, {"error": "state does not have a valid value"}))
        if state != "all":
            issues = [issue for issue in issues if issue["state"] == state]
        iids = request.query.get("iids[]")
        if iids is not None:
            try:
                wanted = {int(value) for value in iids}
            except ValueError:
                raise _Refusal(Response(400, {"error": "iids is invalid"})) from None
            issues = [issue for issue in issues if issue["iid"] in wanted]
        for name, keep in (("updated_after", lambda a, b: a >= b), ("updated_before", lambda a, b: a <= b)):
            text = request.arg(name)
            if text is None:
                continue
            moment = read_time(text)
            if moment is None:
                raise _Refusal(Response(400, {"error": f"{name} is invalid"}))
            issues = [issue for issue in issues if keep(issue["updated_at"], moment)]
        order = request.arg("order_by") or "created_at"
        if order not in ("created_at", "updated_at"):
            raise _Refusal(Response(400, {"error": "order_by does not have a valid value"}))
        sort = request.arg("sort") or "desc"
        if sort not in ("asc", "desc"):
            raise _Refusal(Response(400, {"error": "sort does not have a valid value"}))
        issues.sort(key=lambda issue: (issue[order], issue["id"]), reverse=sort == "desc")
        response = self._page(request, [self._issue_json(project, issue) for issue in issues])
        if self.after_list is not None:
            self.after_list(project)
        return response

    @route("GET", rf"{_PROJECT}/issues/(?P<iid>[^/]+)")
    def get_issue(self, request: Request) -> Response:
        project = self._project(request, issues=True)
        issue = self._issue(project, request)
        return Response(200, {**self._issue_json(project, issue), "subscribed": False})

    @route("POST", rf"{_PROJECT}/issues")
    def create_issue(self, request: Request) -> Response:
        project = self._project(request, issues=True)
        me = self._me(request)
        data = self._body(request)
        if "title" not in data:
            raise _Refusal(Response(400, {"error": "title is missing"}))
        now = self._now()
        issue = {
            "id": next(self.ids),
            "iid": project.next_iid,
            "title": "",
            "description": None,
            "state": "opened",
            "labels": [],
            "assignee_ids": [],
            "milestone_id": None,
            "author_id": me["id"],
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
        }
        self._apply(project, issue, data, me, creating=True)
        project.next_iid += 1
        project.issues[issue["iid"]] = issue
        return Response(201, {**self._issue_json(project, issue), "subscribed": True})

    @route("PUT", rf"{_PROJECT}/issues/(?P<iid>[^/]+)")
    def update_issue(self, request: Request) -> Response:
        project = self._project(request, issues=True)
        issue = self._issue(project, request)
        me = self._me(request)
        level = self._level(project, me)
        if level < PLANNER and issue["author_id"] != me["id"]:
            raise _Refusal(Response(403, {"message": "403 Forbidden"}))
        data = self._body(request)
        known = {"title", "description", "labels", "assignee_ids", "assignee_id", "milestone_id", "state_event"}
        if not known & set(data):
            said = f"at least one parameter of {', '.join(sorted(known))} is required"
            raise _Refusal(Response(400, {"error": said}))
        before = {name: issue[name] for name in ("title", "description", "state", "labels", "assignee_ids")}
        before["milestone_id"] = issue["milestone_id"]
        self._apply(project, issue, data, me, creating=False)
        after = {name: issue[name] for name in before}
        if after != before:
            issue["updated_at"] = self._now(issue["updated_at"])
        return Response(200, {**self._issue_json(project, issue), "subscribed": True})

    # --- the model ------------------------------------------------------------------

    def _apply(self, project: Project, issue: dict, data: dict, me: dict, *, creating: bool) -> None:
        """Writes ``data`` (GitLab's parameters) into ``issue``, refusing as GitLab does."""
        errors = {}
        if "title" in data:
            title = str(data["title"] or "").strip()
            if not title:
                errors["title"] = ["can't be blank"]
            elif len(title) > TITLE_MAX:
                errors["title"] = [f"is too long (maximum is {TITLE_MAX} characters)"]
        if "description" in data and len(str(data["description"] or "")) > DESCRIPTION_MAX:
            errors["description"] = [f"is too long (maximum is {DESCRIPTION_MAX} characters)"]
        if errors:
            raise _Refusal(Response(400, {"message": errors}))
        may_set_metadata = self._level(project, me) >= PLANNER or creating
        if "title" in data:
            issue["title"] = str(data["title"]).strip()
        if "description" in data:
            issue["description"] = data["description"]
        if "labels" in data and may_set_metadata:
            issue["labels"] = self._labels(project, data["labels"])
        ids_key = "assignee_ids" if "assignee_ids" in data else "assignee_id" if "assignee_id" in data else None
        if ids_key and may_set_metadata:
            self._assign(project, issue, data[ids_key])
        if "milestone_id" in data and may_set_metadata:
            value = data["milestone_id"]
            if value in (None, "", 0, "0"):
                issue["milestone_id"] = None
            elif _integer(value) in self._available_milestones(project):
                issue["milestone_id"] = _integer(value)
            # else: not available to the project, dropped without a word
        event = data.get("state_event")
        if event is not None and not creating:  # GitLab ignores state_event on create
            if event not in ("close", "reopen"):
                raise _Refusal(Response(400, {"error": "state_event does not have a valid value"}))
            if event == "close" and issue["state"] == "opened":
                issue["state"], issue["closed_at"] = "closed", self._now()
            elif event == "reopen" and issue["state"] == "closed":
                issue["state"], issue["closed_at"] = "opened", None

    def _labels(self, project: Project, value) -> list[str]:
        names = value if isinstance(value, list) else str(value or "").split(",")
        names = sorted({str(name).strip() for name in names if str(name).strip()})
        available = {name for name, _, _ in self._available_labels(project)}
        for name in names:
            if name not in available:  # created on the fly, as GitLab does
                project.labels[name] = next(self.ids)
        return names

    def _assign(self, project: Project, issue: dict, value) -> None:
        values = value if isinstance(value, list) else [value] if value not in (None, "") else []
        try:
            ids = [int(item) for item in values]
        except (TypeError, ValueError):
            raise _Refusal(Response(400, {"error": "assignee_ids is invalid"})) from None
        if not ids or ids == [0]:
            issue["assignee_ids"] = []
            return
        if not self.multiple_assignees:
            ids = ids[:1]
        readable = [ident for ident in ids if ident in self.users and self._may_read(project, ident)]
        if readable:
            issue["assignee_ids"] = readable
        # else: GitLab drops the parameter, and the assignees stay

    def _now(self, after: datetime | None = None) -> datetime:
        """The fake's time, strictly later than ``after`` (an edit's time): GitLab
        keeps milliseconds, and an edit made after a read is later than it, even on a
        machine fast enough to make both in one millisecond here."""
        moment = self.clock()
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)  # GitLab's resolution
        return moment if after is None or moment > after else after + timedelta(milliseconds=1)

    def _available_labels(self, project: Project) -> list[tuple[str, int, bool]]:
        found = [(name, ident, True) for name, ident in project.labels.items()]
        for group, labels in self.group_labels.items():
            if project.path.lower().startswith(group.lower() + "/"):
                found += [(name, ident, False) for name, ident in labels.items()]
        return found

    def _available_milestones(self, project: Project) -> dict[int, tuple[str, str]]:
        found = {ident: ("project", title) for ident, title in project.milestones.items()}
        for ident, (group, title) in self.group_milestones.items():
            if project.path.lower().startswith(group.lower() + "/"):
                found[ident] = (group, title)
        return found

    def _may_read(self, project: Project, user_id: int) -> bool:
        return project.visibility == "public" or user_id in project.members

    def _level(self, project: Project, user: dict) -> int:
        return project.members.get(user["id"], 0)

    # --- reading requests -------------------------------------------------------------

    def _me(self, request: Request) -> dict:
        return self.users[int(request.headers["x-fake-user"])]

    def _user_named(self, username: str) -> dict:
        for user in self.users.values():
            if user["username"] == username:
                return user
        raise KeyError(username)

    def _project(self, request: Request, *, issues: bool = False) -> Project:
        """The project a request names, as GitLab's find_project! finds it."""
        ident = unquote(request.params["project"])
        if ident.isdigit():
            project = self.projects.get(int(ident))
        else:
            project_id = self.routes_by_path.get(ident.lower())
            moved = project_id is None and ident.lower() in self.redirects
            project = self.projects.get(project_id if not moved else self.redirects[ident.lower()])
            if project is not None and moved and self._may_read(project, self._me(request)["id"]):
                if request.method != "GET":
                    raise _Refusal(Response(405, {"message": "Non GET methods are not allowed for moved projects"}))
                location = f"{self.external_url}{API}/projects/{project.id}"
                body = f"This resource has been moved permanently to {location}"
                raise _Refusal(Response(301, body, {"Location": location, "Content-Type": "text/plain"}))
        if project is None or not self._may_read(project, self._me(request)["id"]):
            raise _Refusal(Response(404, {"message": "404 Project Not Found"}))
        if issues and not project.issues_enabled:
            raise _Refusal(Response(403, {"message": "403 Forbidden"}))
        return project

    def _issue(self, project: Project, request: Request) -> dict:
        iid = request.params["iid"]
        if not iid.isdigit() or int(iid) not in project.issues:
            raise _Refusal(Response(404, {"message": "404 Issue Not Found"}))
        return project.issues[int(iid)]

    def _body(self, request: Request) -> dict:
        """The parameters of a write: a JSON body, or the query string."""
        data = request.json
        if data is None and request.body:
            raise _Refusal(Response(400, {"error": "The provided content-type '' is not supported."}))
        if data is None:
            data = {name: values[-1] for name, values in request.query.items()}
        if not isinstance(data, dict):
            raise _Refusal(Response(400, {"error": "body is invalid"}))
        return data

    # --- answers ------------------------------------------------------------------------

    def _user_json(self, user: dict, *, full: bool = False) -> dict:
        shown = {name: user[name] for name in ("id", "username", "name", "state", "locked", "avatar_url", "web_url")}
        return {**shown, "bot": user["bot"]} if full else shown

    def _issue_json(self, project: Project, issue: dict) -> dict:
        assignees = [self._user_json(self.users[ident]) for ident in issue["assignee_ids"]]
        milestone = None
        if issue["milestone_id"] is not None:
            owner, title = self._available_milestones(project).get(issue["milestone_id"], ("project", "?"))
            milestone = {
                "id": issue["milestone_id"],
                "iid": issue["milestone_id"],
                "title": title,
                "state": "active",
                **({"project_id": project.id} if owner == "project" else {"group_id": 1}),
            }
        iid = issue["iid"]
        web_url = f"{self.external_url}/{project.path}/-/issues/{iid}"
        api = f"{self.external_url}{API}/projects/{project.id}/issues/{issue['iid']}"
        return {
            "id": issue["id"],
            "iid": issue["iid"],
            "project_id": project.id,
            "title": issue["title"],
            "description": issue["description"],
            "state": issue["state"],
            "created_at": show_time(issue["created_at"]),
            "updated_at": show_time(issue["updated_at"]),
            "closed_at": show_time(issue["closed_at"]),
            "closed_by": None,
            "labels": sorted(issue["labels"]),
            "milestone": milestone,
            "assignees": assignees,
            "assignee": assignees[0] if assignees else None,
            "author": self._user_json(self.users[issue["author_id"]]),
            "type": "ISSUE",
            "issue_type": "issue",
            "user_notes_count": 0,
            "merge_requests_count": 0,
            "upvotes": 0,
            "downvotes": 0,
            "due_date": None,
            "confidential": False,
            "discussion_locked": None,
            "web_url": web_url,
            "references": {"short": f"#{iid}", "relative": f"#{iid}", "full": f"{project.path}#{iid}"},
            "time_stats": {"time_estimate": 0, "total_time_spent": 0},
            "has_tasks": False,
            "severity": "UNKNOWN",
            "moved_to_id": None,
            "_links": {"self": api, "notes": f"{api}/notes"},
            "task_completion_status": {"count": 0, "completed_count": 0},
        }  # fmt: skip

    def _page(self, request: Request, items: list) -> Response:
        """One page of ``items`` with GitLab's pagination headers."""
        per_page = _integer(request.arg("per_page") or DEFAULT_PER_PAGE)
        page = _integer(request.arg("page") or 1)
        if per_page is None or page is None:
            raise _Refusal(Response(400, {"error": "per_page is invalid" if per_page is None else "page is invalid"}))
        per_page = min(max(per_page, 1), MAX_PER_PAGE)
        page = max(page, 1)
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        following = page + 1 if page * per_page < total else None
        previous = page - 1 if page > 1 else None
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(following or ""),
            "X-Prev-Page": str(previous or ""),
        }
        counted = total <= COUNTED_AT_MOST
        if counted:
            headers["X-Total"] = str(total)
            headers["X-Total-Pages"] = str(pages)
        base = {name: values for name, values in request.query.items() if name not in ("page", "per_page")}
        links = []
        pairs = [(name, value) for name, values in base.items() for value in values]
        last = pages if counted else None
        for rel, number in (("prev", previous), ("next", following), ("first", 1), ("last", last)):
            if number is not None:
                query = urlencode([*pairs, ("page", number), ("per_page", per_page)])
                links.append(f'<{self.url}{self.prefix}{request.path}?{query}>; rel="{rel}"')
        headers["Link"] = ", ".join(links)
        return Response(200, chunk, headers)


class _Refusal(Exception):
    """An answer other than success, raised from deep in a handler."""

    def __init__(self, response: Response):
        super().__init__(response.status)
        self.response = response


def _integer(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def encoded(path: str) -> str:
    """A project path as GitLab's API takes it in a URL (``group%2Fproject``)."""
    return quote(path, safe="")


__all__ = ["FakeGitLab", "Project", "encoded", "read_time", "show_time"]
