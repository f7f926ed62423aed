"""A stateful fake of Jira's REST API, Cloud (v3) or Server / Data Center (v2),
built from Atlassian's REST documentation: what the Jira connector calls, with the
documented request and answer shapes.

- Authentication: Cloud, basic auth with the account's e-mail and an API token;
  Server, ``Authorization: Bearer <personal access token>``. Anything else is a
  401 ``{"errorMessages": [...]}``. /serverInfo answers anonymously.
- Issues: summary, description (Cloud: an ADF document, refused as a string;
  Server: wiki text), status (only by a transition: To Do → In Progress → Done,
  In Progress → To Do, Done → To Do), priority and issue type by name, assignee
  (Cloud ``accountId``, Server ``name``), labels (no spaces), custom fields
  (``Customer`` a text field, ``Severity`` a select list, ``Notes`` a paragraph
  field: ADF on Cloud). ``updated`` moves on every write, in milliseconds, and
  is shown in the API user's time zone (``Australia/Sydney`` unless told).
- Errors: 400 ``{"errorMessages": [], "errors": {"<field id>": "<message>"}}``
  naming the field Jira refuses; 404 for an issue or project that does not exist.
- Search: Cloud's GET /rest/api/3/search/jql (``nextPageToken`` / ``isLast``;
  the old /rest/api/3/search answers 410 Gone, as Atlassian removed it), Server's
  GET /rest/api/2/search (``startAt`` / ``maxResults`` / ``total``). JQL: clauses
  on project, key, updated, labels, status, priority, issuetype, assignee and
  summary (``~``), joined by AND / OR with parentheses, ``ORDER BY``. A JQL date
  is read in the user's time zone and has at most minutes (``"2024-05-01
  10:00"``); a date with seconds is refused, as Jira refuses it.
"""

import base64
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tests.fakes import FakeTracker, Request, Response, route

STATUSES = {"To Do": "1", "In Progress": "3", "Done": "10001"}
# Transitions: id -> (name, from statuses, to status).
TRANSITIONS = {
    "11": ("Start progress", {"To Do"}, "In Progress"),
    "21": ("Stop progress", {"In Progress"}, "To Do"),
    "31": ("Done", {"In Progress"}, "Done"),
    "41": ("Reopen", {"Done"}, "To Do"),
}
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
ISSUE_TYPES = [("10001", "Task", False), ("10002", "Bug", False), ("10003", "Sub-task", True)]
_TYPES = "com.atlassian.jira.plugin.system.customfieldtypes:"
CUSTOM = {
    "customfield_10050": {"name": "Customer", "type": "string", "custom": _TYPES + "textfield"},
    "customfield_10051": {
        "name": "Severity",
        "type": "option",
        "custom": _TYPES + "select",
        "options": ["Minor", "Major", "Critical"],
    },
    "customfield_10052": {"name": "Notes", "type": "string", "custom": _TYPES + "textarea"},
}
SYSTEM = {
    "summary": "Summary",
    "description": "Description",
    "status": "Status",
    "priority": "Priority",
    "issuetype": "Issue Type",
    "assignee": "Assignee",
    "labels": "Labels",
    "project": "Project",
    "updated": "Updated",
    "created": "Created",
}
JQL_FIELDS = {"project", "key", "issuekey", "updated", "labels", "status", "priority", "issuetype", "type", "assignee"}


class JqlError(Exception):
    """A JQL query the fake refuses, with Jira's message."""


class FakeJira(FakeTracker):
    """Jira as the connector sees it. ``flavour``: "cloud" or "server". ``users``:
    Cloud ``{"accountId", "displayName", "emailAddress", "hidden"}`` (hidden: the
    e-mail is not shown, as Cloud's privacy settings do), Server ``{"name", …}``.
    ``clock``: a fixed time for the next writes (None: the real time)."""

    def __init__(self, flavour: str = "cloud", *, time_zone: str = "Australia/Sydney"):
        self.flavour = flavour
        self.version = "3" if flavour == "cloud" else "2"
        self.email, self.token = "sync@example.com", "api-token-0123456789"
        self.zone = ZoneInfo(time_zone)
        self.time_zone = time_zone
        self.projects: dict[str, dict] = {}
        self.issues: dict[str, dict] = {}
        self.clock: datetime | None = None
        # Called after each search is answered (a test's edit made while pages are read).
        self.after_search: list = []
        self._last = datetime(2000, 1, 1, tzinfo=UTC)
        self._ids = itertools.count(10000)
        if flavour == "cloud":
            self.users = [
                {
                    "accountId": "5b10ac8d82e05b22cc7d4ef5",
                    "displayName": "Jane Doe",
                    "emailAddress": "jane@example.com",
                },
                {
                    "accountId": "557058:f58131cb",
                    "displayName": "Joe",
                    "emailAddress": "joe@example.com",
                    "hidden": True,
                },
            ]
        else:
            self.users = [
                {"name": "jdoe", "key": "JIRAUSER10100", "displayName": "Jane Doe", "emailAddress": "jane@example.com"},
                {"name": "joe", "key": "JIRAUSER10101", "displayName": "Joe", "emailAddress": "joe@example.com"},
            ]
        super().__init__()
        for key in ("WEB", "OPS"):
            self.add_project(key)

    # --- test helpers ------------------------------------------------------------------

    def add_project(self, key: str) -> None:
        with self.lock:
            self.projects[key] = {"id": str(next(self._ids)), "key": key, "name": f"Project {key}", "numbers": 0}

    def credentials(self) -> tuple[str, str]:
        """(Repository.username, secret) the fake accepts."""
        return (self.email, self.token) if self.flavour == "cloud" else ("", self.token)

    def edit(self, key: str, **values) -> None:
        """An edit made in Jira by someone else: ``values`` by Jira field id, stored
        as given."""
        with self.lock:
            self.issues[key]["fields"].update(values)
            self._touch(self.issues[key])

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def jira_time(self, moment: datetime) -> str:
        """``moment`` as Jira writes a timestamp, in the user's time zone."""
        local = moment.astimezone(self.zone)
        return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{local:%z}"

    # --- plumbing ----------------------------------------------------------------------

    def not_found_body(self, request: Request) -> object:
        return {"errorMessages": ["null for uri: " + request.path], "errors": {}}

    def dispatch(self, request: Request) -> Response:
        with self.lock:
            if not request.path.endswith("/serverInfo") and not self._authenticated(request):
                self.seen.append(request)
                return Response(
                    401,
                    {
                        "errorMessages": [
                            "You are not authenticated. Authentication required to perform this operation."
                        ]
                    },
                )
            return super().dispatch(request)

    def _authenticated(self, request: Request) -> bool:
        given = request.headers.get("authorization", "")
        if self.flavour == "cloud":
            expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        else:
            expected = f"Bearer {self.token}"
        return given == expected

    def _api(self, request: Request) -> Response | None:
        """A 404 for the other flavour's API version."""
        if request.params.get("v") != self.version:
            return Response(404, self.not_found_body(request))
        return None

    def _touch(self, issue: dict) -> None:
        moment = max(self.now(), self._last + timedelta(milliseconds=1))
        self._last = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        issue["updated"] = self._last

    # --- routes ------------------------------------------------------------------------

    @route("GET", r"/rest/api/(?P<v>\d)/serverInfo")
    def server_info(self, request: Request) -> Response:
        return self._api(request) or Response(
            200,
            {
                "baseUrl": self.url,
                "version": "1001.0.0-SNAPSHOT" if self.flavour == "cloud" else "9.12.0",
                "deploymentType": "Cloud" if self.flavour == "cloud" else "Server",
                "serverTime": self.jira_time(self.now()),
            },
        )

    @route("GET", r"/rest/api/(?P<v>\d)/myself")
    def myself(self, request: Request) -> Response:
        if self.flavour == "cloud":
            me = {"accountId": "5d00000000000000000000aa", "emailAddress": self.email, "displayName": "Sync"}
        else:
            me = {"name": "sync", "key": "JIRAUSER10000", "emailAddress": self.email, "displayName": "Sync"}
        return self._api(request) or Response(200, {**me, "active": True, "timeZone": self.time_zone})

    @route("GET", r"/rest/api/(?P<v>\d)/field")
    def fields(self, request: Request) -> Response:
        listed = [
            {"id": ident, "key": ident, "name": name, "custom": False, "navigable": True}
            for ident, name in SYSTEM.items()
        ]
        for ident, field in CUSTOM.items():
            listed.append(
                {
                    "id": ident,
                    "key": ident,
                    "name": field["name"],
                    "custom": True,
                    "schema": {"type": field["type"], "custom": field["custom"], "customId": int(ident[12:])},
                }
            )
        return self._api(request) or Response(200, listed)

    @route("GET", r"/rest/api/(?P<v>\d)/project/(?P<key>[^/]+)")
    def project(self, request: Request) -> Response:
        project = self.projects.get(request.params["key"].upper())
        if project is None:
            message = f"No project could be found with key '{request.params['key']}'."
            return self._api(request) or Response(404, {"errorMessages": [message], "errors": {}})
        types = [{"id": ident, "name": name, "subtask": sub} for ident, name, sub in ISSUE_TYPES]
        body = {"id": project["id"], "key": project["key"], "name": project["name"], "issueTypes": types}
        return self._api(request) or Response(200, body)

    @route("GET", r"/rest/api/(?P<v>\d)/user/search")
    def user_search(self, request: Request) -> Response:
        query = (request.arg("query") if self.flavour == "cloud" else request.arg("username")) or ""
        query = query.casefold()
        found = []
        for user in self.users:
            texts = [user.get("displayName", ""), user.get("emailAddress", ""), user.get("name", "")]
            if any(text.casefold().startswith(query) for text in texts if text):
                found.append(self._user(user))
        return self._api(request) or Response(200, found)

    @route("GET", r"/rest/api/(?P<v>\d)/issue/(?P<key>[^/]+)")
    def get_issue(self, request: Request) -> Response:
        issue = self.issues.get(request.params["key"])
        if issue is None:
            return self._api(request) or self._no_issue()
        return self._api(request) or Response(200, self._render(issue, request.arg("fields")))

    @route("POST", r"/rest/api/(?P<v>\d)/issue")
    def create_issue(self, request: Request) -> Response:
        if refused := self._api(request):
            return refused
        values = (request.json or {}).get("fields")
        if not isinstance(values, dict):
            return Response(400, {"errorMessages": ["Can not deserialize the request: no fields"], "errors": {}})
        errors = {}
        project = self.projects.get(str((values.get("project") or {}).get("key", "")).upper())
        if project is None:
            errors["project"] = "valid project is required"
        if not values.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        issue_type = (values.get("issuetype") or {}).get("name")
        if issue_type not in [name for _, name, _ in ISSUE_TYPES]:
            errors["issuetype"] = "Specify an issue type"
        stored, more = self._validate({k: v for k, v in values.items() if k not in ("project", "issuetype")})
        errors.update(more)
        if errors:
            return Response(400, {"errorMessages": [], "errors": errors})
        project["numbers"] += 1
        key = f"{project['key']}-{project['numbers']}"
        now = self.now()
        issue = {
            "id": str(next(self._ids)),
            "key": key,
            "project": project["key"],
            "created": now,
            "fields": {
                "summary": "",
                "description": None,
                "status": "To Do",
                "priority": "Medium",
                "issuetype": issue_type,
                "assignee": None,
                "labels": [],
                **dict.fromkeys(CUSTOM),
                **stored,
            },
        }
        self._touch(issue)
        self.issues[key] = issue
        return Response(201, {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/{self.version}/issue/{key}"})

    @route("PUT", r"/rest/api/(?P<v>\d)/issue/(?P<key>[^/]+)")
    def edit_issue(self, request: Request) -> Response:
        if refused := self._api(request):
            return refused
        issue = self.issues.get(request.params["key"])
        if issue is None:
            return self._no_issue()
        values = (request.json or {}).get("fields") or {}
        stored, errors = self._validate(values)
        if "project" in values:
            errors["project"] = "Field 'project' cannot be set. It is not on the appropriate screen, or unknown."
        if "summary" in values and not values["summary"]:
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            return Response(400, {"errorMessages": [], "errors": errors})
        issue["fields"].update(stored)
        self._touch(issue)
        return Response(204)

    @route("GET", r"/rest/api/(?P<v>\d)/issue/(?P<key>[^/]+)/transitions")
    def transitions(self, request: Request) -> Response:
        issue = self.issues.get(request.params["key"])
        if issue is None:
            return self._api(request) or self._no_issue()
        listed = [
            {"id": ident, "name": name, "to": {"id": STATUSES[to], "name": to}, "hasScreen": False}
            for ident, (name, sources, to) in TRANSITIONS.items()
            if issue["fields"]["status"] in sources
        ]
        return self._api(request) or Response(200, {"expand": "transitions", "transitions": listed})

    @route("POST", r"/rest/api/(?P<v>\d)/issue/(?P<key>[^/]+)/transitions")
    def transition(self, request: Request) -> Response:
        if refused := self._api(request):
            return refused
        issue = self.issues.get(request.params["key"])
        if issue is None:
            return self._no_issue()
        ident = str(((request.json or {}).get("transition") or {}).get("id", ""))
        found = TRANSITIONS.get(ident)
        if found is None or issue["fields"]["status"] not in found[1]:
            return Response(
                400, {"errorMessages": [f"Transition id '{ident}' is not valid for this issue."], "errors": {}}
            )
        issue["fields"]["status"] = found[2]
        self._touch(issue)
        return Response(204)

    @route("GET", r"/rest/api/(?P<v>\d)/search")
    def search_v2(self, request: Request) -> Response:
        if self.flavour == "cloud":
            message = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
            return Response(410, {"errorMessages": [message], "errors": {}})
        if refused := self._api(request):
            return refused
        try:
            issues = self._query(request.arg("jql") or "")
            start = int(request.arg("startAt") or 0)
            size = min(int(request.arg("maxResults") or 50), 100)
        except JqlError as exc:
            return Response(400, {"errorMessages": [str(exc)], "errors": {}})
        except ValueError:
            return Response(400, {"errorMessages": ["startAt and maxResults must be numbers"], "errors": {}})
        page = issues[start : start + size]
        fields = request.arg("fields")
        body = {
            "startAt": start,
            "maxResults": size,
            "total": len(issues),
            "issues": [self._render(issue, fields) for issue in page],
        }
        self._searched()
        return Response(200, body)

    @route("GET", r"/rest/api/(?P<v>\d)/search/jql")
    def search_jql(self, request: Request) -> Response:
        if self.flavour != "cloud":
            return Response(404, self.not_found_body(request))
        try:
            issues = self._query(request.arg("jql") or "")
            token = request.arg("nextPageToken")
            start = int(base64.b64decode(token).decode()) if token else 0
            size = min(int(request.arg("maxResults") or 50), 100)
        except JqlError as exc:
            return Response(400, {"errorMessages": [str(exc)], "errors": {}})
        except ValueError:
            return Response(400, {"errorMessages": ["Invalid nextPageToken or maxResults"], "errors": {}})
        page = issues[start : start + size]
        fields = request.arg("fields")
        body = {"issues": [self._render(issue, fields, ids_only=fields is None) for issue in page]}
        if start + size < len(issues):
            body["nextPageToken"] = base64.b64encode(str(start + size).encode()).decode()
            body["isLast"] = False
        else:
            body["isLast"] = True
        self._searched()
        return Response(200, body)

    def _searched(self) -> None:
        while self.after_search:
            self.after_search.pop(0)()

    # --- issues ------------------------------------------------------------------------

    def _no_issue(self) -> Response:
        return Response(
            404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
        )

    def _user(self, user: dict) -> dict:
        shown = {k: v for k, v in user.items() if k != "hidden"}
        if user.get("hidden"):
            shown.pop("emailAddress", None)
        return {**shown, "active": True}

    def _find_user(self, value) -> dict | None:
        if not isinstance(value, dict):
            return None
        attribute = "accountId" if self.flavour == "cloud" else "name"
        return next((user for user in self.users if user.get(attribute) == value.get(attribute)), None)

    def _validate(self, values: dict) -> tuple[dict, dict]:
        """(what to store, errors by field id) for the ``fields`` of a create or edit."""
        stored, errors = {}, {}
        for ident, value in values.items():
            if ident == "summary":
                if isinstance(value, str) and len(value) > 255:
                    errors[ident] = "Summary must be less than 255 characters."
                stored[ident] = value
            elif ident == "description":
                if self.flavour == "cloud" and value is not None and not _is_adf(value):
                    errors[ident] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
                elif self.flavour == "server" and value is not None and not isinstance(value, str):
                    errors[ident] = "Operation value must be a string"
                stored[ident] = value
            elif ident == "priority":
                name = (value or {}).get("name")
                if name not in PRIORITIES:
                    errors[ident] = f"Priority name '{name}' is not valid"
                stored[ident] = name
            elif ident == "issuetype":
                name = (value or {}).get("name")
                if name not in [n for _, n, _ in ISSUE_TYPES]:
                    errors[ident] = "Specify an issue type"
                stored[ident] = name
            elif ident == "assignee":
                user = self._find_user(value)
                if value is not None and user is None:
                    if self.flavour == "cloud":
                        errors[ident] = "Specified user does not exist or you do not have required permissions"
                    else:
                        errors[ident] = f"User '{(value or {}).get('name')}' does not exist."
                stored[ident] = user
            elif ident == "labels":
                if not isinstance(value, list) or any(not isinstance(v, str) or " " in v for v in value):
                    errors[ident] = "The label contains spaces which is invalid."
                stored[ident] = sorted(set(value)) if isinstance(value, list) else []
            elif ident in CUSTOM:
                field = CUSTOM[ident]
                if field["type"] == "option" and value is not None:
                    if (value or {}).get("value") not in field["options"]:
                        errors[ident] = f"Option value '{(value or {}).get('value')}' is not valid"
                elif ident == "customfield_10052" and self.flavour == "cloud" and value is not None:
                    if not _is_adf(value):
                        errors[ident] = "Operation value must be an Atlassian Document"
                elif value is not None and (not isinstance(value, str) or len(value) > 255):
                    errors[ident] = "Please enter text of at most 255 characters."
                stored[ident] = value
            else:
                errors[ident] = f"Field '{ident}' cannot be set. It is not on the appropriate screen, or unknown."
        return stored, errors

    def _render(self, issue: dict, fields: str | None, ids_only: bool = False) -> dict:
        if ids_only:
            return {"id": issue["id"]}
        values = issue["fields"]
        project = self.projects[issue["project"]]
        types = {name: (ident, sub) for ident, name, sub in ISSUE_TYPES}
        shown = {
            "summary": values["summary"],
            "description": values["description"],
            "status": {"id": STATUSES[values["status"]], "name": values["status"]},
            "priority": (
                {"id": str(PRIORITIES.index(values["priority"]) + 1), "name": values["priority"]}
                if values["priority"]
                else None
            ),
            "issuetype": {"id": types[values["issuetype"]][0], "name": values["issuetype"]},
            "assignee": self._user(values["assignee"]) if values["assignee"] else None,
            "labels": list(values["labels"]),
            "project": {"id": project["id"], "key": project["key"], "name": project["name"]},
            "created": self.jira_time(issue["created"]),
            "updated": self.jira_time(issue["updated"]),
        }
        for ident in CUSTOM:
            shown[ident] = values.get(ident)
        if fields and fields not in ("*all", "*navigable"):
            wanted = set(fields.split(","))
            shown = {k: v for k, v in shown.items() if k in wanted}
        return {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self.url}/rest/api/{self.version}/issue/{issue['id']}",
            "fields": shown,
        }

    # --- JQL ---------------------------------------------------------------------------

    def _query(self, jql: str) -> list[dict]:
        """The issues ``jql`` finds, in its order. JqlError when Jira refuses it."""
        text, _, order = _split_order(jql)
        condition = _Parser(text, self).parse() if text.strip() else (lambda issue: True)
        found = [issue for issue in self.issues.values() if condition(issue)]
        if order:
            found.sort(key=lambda issue: (issue["updated"], issue["project"], int(issue["key"].split("-")[1])))
        return found

    def jql_date(self, text: str) -> datetime:
        """A JQL date in the user's time zone; JqlError for seconds or another form."""
        for form in ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d"):
            try:
                wall = datetime.strptime(text, form)
            except ValueError:
                continue
            return wall.replace(tzinfo=self.zone)
        raise JqlError(
            f"Date value '{text}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
            "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        )


def _is_adf(value) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and isinstance(value.get("content"), list)


def _split_order(jql: str) -> tuple[str, str, str]:
    upper = jql.upper()
    at = upper.rfind("ORDER BY")
    if at < 0:
        return jql, "", ""
    return jql[:at], "ORDER BY", jql[at + len("ORDER BY") :]


class _Parser:
    """A small JQL reader: ``clause (AND|OR clause)*`` with parentheses, a clause
    being ``field op value`` (op: =, !=, >=, <=, >, <, ~, IN, NOT IN)."""

    def __init__(self, text: str, fake: FakeJira):
        self.tokens = _tokens(text)
        self.position = 0
        self.fake = fake

    def parse(self):
        condition = self._or()
        if self.position != len(self.tokens):
            raise JqlError(
                f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{self.tokens[self.position]}'."
            )
        return condition

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise JqlError("Error in the JQL Query: The query ended unexpectedly.")
        self.position += 1
        return token

    def _or(self):
        parts = [self._and()]
        while (self._peek() or "").upper() == "OR":
            self._take()
            parts.append(self._and())
        return lambda issue: any(part(issue) for part in parts)

    def _and(self):
        parts = [self._factor()]
        while (self._peek() or "").upper() == "AND":
            self._take()
            parts.append(self._factor())
        return lambda issue: all(part(issue) for part in parts)

    def _factor(self):
        if self._peek() == "(":
            self._take()
            inner = self._or()
            if self._take() != ")":
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            return inner
        return self._clause()

    def _clause(self):
        field = _unquote(self._take()).lower()
        if field not in JQL_FIELDS and field != "summary":
            raise JqlError(f"Field '{field}' does not exist or you do not have permission to view it.")
        operator = self._take().upper()
        if operator == "NOT":
            operator += " " + self._take().upper()
        if operator in ("IN", "NOT IN"):
            if self._take() != "(":
                raise JqlError("Error in the JQL Query: Expecting '(' after IN.")
            values = []
            while True:
                values.append(_unquote(self._take()))
                separator = self._take()
                if separator == ")":
                    break
                if separator != ",":
                    raise JqlError("Error in the JQL Query: Expecting ',' or ')'.")
        elif operator in ("=", "!=", ">=", "<=", ">", "<", "~"):
            values = [_unquote(self._take())]
        else:
            raise JqlError(f"Error in the JQL Query: The operator '{operator}' is not supported.")
        return self._test(field, operator, values)

    def _test(self, field: str, operator: str, values: list[str]):
        fake = self.fake
        if field == "project":
            for value in values:
                if value.upper() not in fake.projects:
                    raise JqlError(f"The value '{value}' does not exist for the field 'project'.")
        if field in ("key", "issuekey"):
            for value in values:
                if value not in fake.issues:
                    raise JqlError(f"An issue with key '{value}' does not exist for field 'key'.")
        if field == "updated":
            moment = fake.jql_date(values[0])
            compare = {
                ">=": lambda a: a >= moment,
                ">": lambda a: a > moment,
                "<=": lambda a: a <= moment,
                "<": lambda a: a < moment,
                "=": lambda a: a == moment,
                "!=": lambda a: a != moment,
            }.get(operator)
            if compare is None:
                raise JqlError(f"Error in the JQL Query: The operator '{operator}' is not supported by 'updated'.")
            return lambda issue: compare(issue["updated"])

        def values_of(issue) -> list[str]:
            stored = issue["fields"]
            if field == "project":
                return [issue["project"]]
            if field in ("key", "issuekey"):
                return [issue["key"]]
            if field == "labels":
                return list(stored["labels"])
            if field == "assignee":
                user = stored["assignee"] or {}
                return [user.get("accountId") or user.get("name") or ""]
            if field == "type":
                return [stored["issuetype"]]
            return [str(stored.get(field) or "")]

        wanted = {value.casefold() for value in values}
        if operator == "~":
            return lambda issue: values[0].casefold() in " ".join(values_of(issue)).casefold()
        if operator in ("=", "IN"):
            return lambda issue: bool({v.casefold() for v in values_of(issue)} & wanted)
        if operator in ("!=", "NOT IN"):
            return lambda issue: not ({v.casefold() for v in values_of(issue)} & wanted)
        raise JqlError(f"Error in the JQL Query: The operator '{operator}' is not supported by '{field}'.")


def _tokens(text: str) -> list[str]:
    tokens, index = [], 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "(),":
            tokens.append(char)
            index += 1
        elif char in "\"'":
            end = text.find(char, index + 1)
            if end < 0:
                raise JqlError("Error in the JQL Query: The quoted string has no end.")
            tokens.append(text[index : end + 1])
            index = end + 1
        elif char in "=!<>~":
            end = index + 1
            while end < len(text) and text[end] in "=<>":
                end += 1
            tokens.append(text[index:end])
            index = end
        else:
            end = index
            while end < len(text) and not text[end].isspace() and text[end] not in "(),=!<>~\"'":
                end += 1
            tokens.append(text[index:end])
            index = end
    return tokens


def _unquote(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    return token
