"""A stateful fake of GitHub's REST API for issues (tests/fakes), built from GitHub's
documentation and its OpenAPI description (the npm package @octokit/openapi, which
tests/fakes/github_openapi.py checks every answer of this fake against).

What it serves (the description's operation ids):

=========================== ====== =========================================
users/get-authenticated      GET    /user
repos/get                    GET    /repos/{owner}/{repo}
issues/list-for-repo         GET    /repos/{owner}/{repo}/issues
issues/create                POST   /repos/{owner}/{repo}/issues
issues/get                   GET    /repos/{owner}/{repo}/issues/{issue_number}
issues/update                PATCH  /repos/{owner}/{repo}/issues/{issue_number}
issues/list-labels-for-repo  GET    /repos/{owner}/{repo}/labels
issues/list-milestones       GET    /repos/{owner}/{repo}/milestones
issues/list-assignees        GET    /repos/{owner}/{repo}/assignees
=========================== ====== =========================================

As documented: tokens as ``Authorization: Bearer`` (or ``token``), a bad one is 401
"Bad credentials", none reads public repositories only; a repository the token's
user may not see is 404; owner and repository names ignore case. Lists page with
``per_page`` (default 30, at most 100) and ``page``, and say the other pages in a
``Link`` header. The issues list takes ``state`` (default open), ``sort`` (created,
updated, comments), ``direction`` (default desc), ``since`` (``updated_at`` from
that second on: inclusive, to the second), ``labels``, ``milestone``, ``assignee``
and ``creator``, and holds pull requests too (with their ``pull_request`` key).
Issues keep their times to the microsecond (lists sort by them) and show them to the
second. Every answer carries the ``x-ratelimit-*`` headers of the token's primary
rate limit (5,000 an hour); once it is spent, requests are refused with 403 (or
``rate_limit_status``) until the reset. Every GET answer has an ``ETag``; a request
whose ``If-None-Match`` matches is answered 304 without a body and not counted.
Errors are ``{"message", "documentation_url", "status"}``, and 422 adds ``errors:
[{resource, field, code}]``. Writes: a missing label is created (GitHub's
undocumented habit, reported in github/docs#35718); labels, assignees and milestone
are silently dropped for a user without push access (documented); a login that
cannot be assigned, or a milestone that does not exist, is a 422; a title longer
than 256 characters is a 422 naming ``title``; closing sets ``state_reason``
(``completed`` unless given), reopening sets it to ``reopened``, and a reason
without a change of state is ignored (documented). A deleted issue answers 410, a
transferred one 301, a repository with issues disabled 410.

A test sets the scene (``add_repo``, ``add_user``, ``add_token``, ``add_issue``,
``add_pull_request``), acts as a person would in GitHub (``edit_issue``,
``delete_issue``, ``transfer_issue``), moves time (``age``: every time in the past by
so many seconds), and queues faults (``fail_next``, with ``secondary_limit()``).
``exchanges`` holds every (request, answer) for the OpenAPI check; ``before_answer``
(a callable taking the request) runs before each routed request, to edit something
in the middle of a read.
"""

import base64
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from tests.fakes import FakeTracker, Request, Response, route

DOCS = "https://docs.github.com/rest"
RATE_LIMIT_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
API_VERSIONS = ("2022-11-28", "2026-03-10")
HOURLY_LIMIT = 5000
ANONYMOUS_LIMIT = 60
TITLE_LIMIT = 256
BODY_LIMIT = 65536
ROLES = ("read", "triage", "write", "maintain", "admin")
PUSH_ROLES = ("write", "maintain", "admin")

REPO = r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"

_ids = itertools.count(1000)


def stamp(moment: datetime | None) -> str | None:
    """GitHub's way of writing a time: UTC, to the second."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, ident: int) -> str:
    """A node id of the form GitHub's GraphQL ids take (opaque)."""
    return base64.b64encode(f"0:{kind}{ident}".encode()).decode()


def error(status: int, message: str, documentation_url: str = DOCS, headers: dict | None = None) -> Response:
    """GitHub's error answer: ``{message, documentation_url, status}``."""
    return Response(status, {"message": message, "documentation_url": documentation_url, "status": str(status)},
                    dict(headers or {}))  # fmt: skip


def validation_failed(*errors: dict, message: str = "Validation Failed") -> Response:
    """A 422 with GitHub's ``errors: [{resource, field, code, ...}]``."""
    body = {"message": message, "documentation_url": DOCS, "status": "422"}
    if errors:
        body["errors"] = list(errors)
    return Response(422, body)


@dataclass
class User:
    """A GitHub account."""

    login: str
    id: int = field(default_factory=lambda: next(_ids))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Token:
    """A personal access token: its user, whether it may write issues, its primary rate limit."""

    login: str | None  # None: anonymous
    write: bool = True  # the token may write issues (fine-grained "Issues: write"; classic "repo")
    limit: int = HOURLY_LIMIT
    remaining: int = HOURLY_LIMIT
    reset: int = 0  # epoch seconds

    def refill(self) -> None:
        """A new hour: the whole limit again."""
        if self.reset <= time.time():
            self.remaining = self.limit
            self.reset = int(time.time()) + 3600


@dataclass
class Milestone:
    """A repository's milestone."""

    number: int
    title: str
    state: str = "open"
    description: str | None = None
    creator: str | None = None
    id: int = field(default_factory=lambda: next(_ids))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class Issue:
    """An issue, or a pull request (``pull_request``), as the fake keeps it."""

    number: int
    title: str
    user: str
    body: str | None = None
    state: str = "open"
    state_reason: str | None = None
    labels: list[str] = field(default_factory=list)  # names as the repository spells them
    assignees: list[str] = field(default_factory=list)  # logins
    milestone: int | None = None
    comments: int = 0
    pull_request: bool = False
    id: int = field(default_factory=lambda: next(_ids))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    closed_at: datetime | None = None
    closed_by: str | None = None
    deleted: bool = False
    moved_to: str | None = None  # "owner/repo#n" it was transferred to


@dataclass
class Repo:
    """A repository: its collaborators' roles, labels, milestones and issues."""

    owner: str
    name: str
    private: bool = False
    has_issues: bool = True
    roles: dict[str, str] = field(default_factory=dict)  # login (casefolded) -> role
    labels: dict[str, dict] = field(default_factory=dict)  # name (casefolded) -> label fields
    milestones: dict[int, Milestone] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    next_number: int = 1
    id: int = field(default_factory=lambda: next(_ids))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def full_name(self) -> str:
        """``owner/name``."""
        return f"{self.owner}/{self.name}"

    def role(self, login: str | None) -> str | None:
        """The role of ``login`` here (the owner is admin), None for none."""
        if login is None:
            return None
        if login.casefold() == self.owner.casefold():
            return "admin"
        return self.roles.get(login.casefold())

    def label(self, name: str) -> dict | None:
        """The label named ``name`` (ignoring case), None if there is none."""
        return self.labels.get(name.casefold())


@dataclass
class Exchange:
    """One request and the answer the fake gave it."""

    request: Request
    response: Response


class FakeGitHub(FakeTracker):
    """GitHub's REST API for issues, at ``api_url`` (``enterprise``: under
    ``/api/v3``, as GitHub Enterprise Server serves it). See the module's
    documentation."""

    def __init__(self, enterprise: bool = False):
        super().__init__()
        self.prefix = "/api/v3" if enterprise else ""
        self.api_url = self.url + self.prefix
        self.web_url = self.url
        self.users: dict[str, User] = {}
        self.tokens: dict[str, Token] = {}
        self.anonymous = Token(None, write=False, limit=ANONYMOUS_LIMIT, remaining=ANONYMOUS_LIMIT)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.exchanges: list[Exchange] = []
        self.rate_limit_status = 403
        self.before_answer: Callable[[Request], None] | None = None
        # Polled more often than serve_forever's default, so that stop() takes no half second.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # --- the scene ----------------------------------------------------------------------

    def add_user(self, login: str) -> User:
        """The user ``login``, made if need be."""
        with self.lock:
            return self.users.setdefault(login.casefold(), User(login))

    def add_token(self, token: str, login: str, write: bool = True) -> Token:
        """A token of ``login`` (``write``: it may write issues), with a full hour's limit."""
        with self.lock:
            self.add_user(login)
            self.tokens[token] = Token(login, write=write, reset=int(time.time()) + 3600)
            return self.tokens[token]

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        has_issues: bool = True,
        labels: tuple[str, ...] = ("bug", "enhancement", "documentation"),
        milestones: tuple[str, ...] = ("v1.0", "v2.0"),
        roles: dict[str, str] | None = None,
    ) -> Repo:
        """A repository of ``owner`` with ``labels``, ``milestones`` and its
        collaborators' ``roles`` (login -> read, triage, write, maintain or admin)."""
        with self.lock:
            self.add_user(owner)
            repo = Repo(owner, name, private=private, has_issues=has_issues)
            for login, role in (roles or {}).items():
                assert role in ROLES, role
                self.add_user(login)
                repo.roles[login.casefold()] = role
            self.repos[(owner.casefold(), name.casefold())] = repo
            for label in labels:
                self._create_label(repo, label)
            for title in milestones:
                self.add_milestone(owner, name, title)
            return repo

    def add_milestone(self, owner: str, name: str, title: str, state: str = "open") -> Milestone:
        """A milestone of the repository."""
        with self.lock:
            repo = self.repo(owner, name)
            milestone = Milestone(len(repo.milestones) + 1, title, state=state, creator=repo.owner)
            repo.milestones[milestone.number] = milestone
            return milestone

    def repo(self, owner: str, name: str) -> Repo:
        """The repository ``owner/name`` (names ignore case)."""
        return self.repos[(owner.casefold(), name.casefold())]

    def issue(self, owner: str, name: str, number: int) -> Issue:
        """Issue ``number`` of the repository."""
        return self.repo(owner, name).issues[number]

    def add_issue(self, owner: str, name: str, title: str, by: str | None = None, **fields) -> Issue:
        """An issue opened by ``by`` (the owner by default) in GitHub itself:
        ``fields`` are Issue's (labels by name, milestone by title)."""
        with self.lock:
            repo = self.repo(owner, name)
            issue = Issue(repo.next_number, title, by or repo.owner)
            repo.next_number += 1
            repo.issues[issue.number] = issue
            self._apply(repo, issue, fields, by or repo.owner)
            return issue

    def add_pull_request(self, owner: str, name: str, title: str, by: str | None = None) -> Issue:
        """A pull request: an issue number of the repository that the issues API
        lists and serves like an issue, with its ``pull_request`` key."""
        with self.lock:
            issue = self.add_issue(owner, name, title, by)
            issue.pull_request = True
            return issue

    def edit_issue(self, owner: str, name: str, number: int, by: str | None = None, **fields) -> Issue:
        """An edit made by a person in GitHub (``fields`` as for add_issue)."""
        with self.lock:
            repo = self.repo(owner, name)
            issue = repo.issues[number]
            self._apply(repo, issue, fields, by or repo.owner)
            return issue

    def delete_issue(self, owner: str, name: str, number: int) -> None:
        """The issue deleted, as an administrator deletes one in GitHub: its number answers 410."""
        with self.lock:
            self.issue(owner, name, number).deleted = True

    def transfer_issue(self, owner: str, name: str, number: int, to_owner: str, to_name: str) -> Issue:
        """The issue transferred to another repository: its old number answers 301 there."""
        with self.lock:
            old = self.issue(owner, name, number)
            moved = self.add_issue(to_owner, to_name, old.title, by=old.user, body=old.body)
            old.moved_to = f"{self.repo(to_owner, to_name).full_name}#{moved.number}"
            return moved

    def age(self, seconds: float) -> None:
        """Every time the fake holds moves ``seconds`` into the past, as if that much
        time had gone by since."""
        delta = timedelta(seconds=seconds)
        with self.lock:
            for repo in self.repos.values():
                repo.created -= delta
                for milestone in repo.milestones.values():
                    milestone.created -= delta
                    milestone.updated -= delta
                for issue in repo.issues.values():
                    issue.created -= delta
                    issue.updated -= delta
                    if issue.closed_at:
                        issue.closed_at -= delta

    def secondary_limit(self, retry_after: int | None = 60, status: int = 403) -> Response:
        """The answer to a request that ran into a secondary rate limit."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        return error(
            status,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach "
            "out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.",
            "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            headers,
        )

    def _apply(self, repo: Repo, issue: Issue, fields: dict, by: str) -> None:
        for name, value in fields.items():
            if name == "labels":
                issue.labels = [self._create_label(repo, label)["name"] for label in value]
            elif name == "milestone":
                issue.milestone = next((m.number for m in repo.milestones.values() if m.title == value), None)
            elif name == "state":
                self._set_state(issue, value, fields.get("state_reason"), by)
            elif name == "state_reason":
                continue
            else:
                assert hasattr(issue, name), name
                setattr(issue, name, value)
        issue.updated = datetime.now(UTC)

    def _set_state(self, issue: Issue, state: str, reason: str | None, by: str | None) -> None:
        if state == issue.state:
            return  # "state_reason: ignored unless state is changed"
        issue.state = state
        if state == "closed":
            issue.state_reason = reason if reason in ("completed", "not_planned", "duplicate") else "completed"
            issue.closed_at = datetime.now(UTC)
            issue.closed_by = by
        else:
            issue.state_reason = "reopened"
            issue.closed_at = None
            issue.closed_by = None

    def _create_label(self, repo: Repo, name: str) -> dict:
        label = repo.label(name)
        if label is None:
            label = {"id": next(_ids), "name": name, "color": "ededed", "description": None, "default": False}
            repo.labels[name.casefold()] = label
        return label

    # --- the server -----------------------------------------------------------------------

    def not_found_body(self, request: Request) -> object:
        """GitHub's 404 body."""
        return {"message": "Not Found", "documentation_url": DOCS, "status": "404"}

    def dispatch(self, request: Request) -> Response:
        """Answers ``request`` as GitHub would (or with a queued fault), and records the exchange."""
        with self.lock:
            if self.faults:
                response = super().dispatch(request)  # a queued fault, as it is
                self._rate_headers(response, self._token(request) or self.anonymous)
            else:
                response = self._answer(request)
            self.exchanges.append(Exchange(request, response))
            return response

    def _answer(self, request: Request) -> Response:
        if self.prefix:
            if not request.path.startswith(self.prefix + "/"):
                self.seen.append(request)
                return Response(404, self.not_found_body(request))
            request.path = request.path[len(self.prefix) :]
        version = request.headers.get("x-github-api-version")
        if version is not None and version not in API_VERSIONS:
            self.seen.append(request)
            return error(400, f"Unsupported API version: '{version}'.")
        token = self._token(request)
        if token is None:
            self.seen.append(request)
            return error(401, "Bad credentials")
        token.refill()
        if token.remaining <= 0:
            self.seen.append(request)
            who = f"user ID {self.users[token.login.casefold()].id}" if token.login else "127.0.0.1"
            response = error(
                self.rate_limit_status,
                f"API rate limit exceeded for {who}. If you reach out to GitHub Support for help, please include "
                "the request ID 0000:0000:0000000:0000000:00000000.",
                RATE_LIMIT_DOCS,
            )
            return self._rate_headers(response, token)
        request.login = token.login
        request.token = token
        if self.before_answer is not None:
            self.before_answer(request)
        response = super().dispatch(request)
        if request.method == "GET" and response.status == 200:
            body = json.dumps(response.body)
            etag = 'W/"' + hashlib.sha256(f"{token.login}|{body}".encode()).hexdigest()[:40] + '"'
            response.headers["ETag"] = etag
            if etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]:
                return self._rate_headers(Response(304, None, {"ETag": etag}), token)
        token.remaining -= 1
        return self._rate_headers(response, token)

    def _token(self, request: Request) -> Token | None:
        """The request's token; the anonymous one without Authorization; None for a
        token the fake does not know."""
        header = request.headers.get("authorization", "").strip()
        if not header:
            return self.anonymous
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        return self.tokens.get(value.strip())

    @staticmethod
    def _rate_headers(response: Response, token: Token) -> Response:
        for name, value in {
            "x-ratelimit-limit": str(token.limit),
            "x-ratelimit-remaining": str(max(token.remaining, 0)),
            "x-ratelimit-used": str(token.limit - max(token.remaining, 0)),
            "x-ratelimit-reset": str(token.reset),
            "x-ratelimit-resource": "core",
            "x-github-api-version-selected": API_VERSIONS[0],
            "x-github-media-type": "github.v3; format=json",
        }.items():
            response.headers.setdefault(name, value)
        return response

    # --- JSON as GitHub writes it ----------------------------------------------------------

    def _user_json(self, login: str | None) -> dict | None:
        if login is None:
            return None
        user = self.users.get(login.casefold()) or self.add_user(login)
        api = f"{self.api_url}/users/{user.login}"
        return {
            "login": user.login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api,
            "html_url": f"{self.web_url}/{user.login}",
            "followers_url": f"{api}/followers",
            "following_url": f"{api}/following{{/other_user}}",
            "gists_url": f"{api}/gists{{/gist_id}}",
            "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api}/subscriptions",
            "organizations_url": f"{api}/orgs",
            "repos_url": f"{api}/repos",
            "events_url": f"{api}/events{{/privacy}}",
            "received_events_url": f"{api}/received_events",
            "type": "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def _label_json(self, repo: Repo, name: str) -> dict:
        label = repo.label(name)
        return {
            "id": label["id"],
            "node_id": node_id("Label", label["id"]),
            "url": f"{self.api_url}/repos/{repo.full_name}/labels/{label['name']}",
            "name": label["name"],
            "color": label["color"],
            "description": label["description"],
            "default": label["default"],
        }

    def _milestone_json(self, repo: Repo, milestone: Milestone) -> dict:
        issues = [issue for issue in repo.issues.values() if issue.milestone == milestone.number and not issue.deleted]
        api = f"{self.api_url}/repos/{repo.full_name}/milestones/{milestone.number}"
        return {
            "url": api,
            "html_url": f"{self.web_url}/{repo.full_name}/milestone/{milestone.number}",
            "labels_url": f"{api}/labels",
            "id": milestone.id,
            "node_id": node_id("Milestone", milestone.id),
            "number": milestone.number,
            "state": milestone.state,
            "title": milestone.title,
            "description": milestone.description,
            "creator": self._user_json(milestone.creator),
            "open_issues": sum(1 for issue in issues if issue.state == "open"),
            "closed_issues": sum(1 for issue in issues if issue.state == "closed"),
            "created_at": stamp(milestone.created),
            "updated_at": stamp(milestone.updated),
            "closed_at": None,
            "due_on": None,
        }

    def _issue_json(self, repo: Repo, issue: Issue) -> dict:
        api = f"{self.api_url}/repos/{repo.full_name}"
        kind = "pull" if issue.pull_request else "issues"
        role = repo.role(issue.user)
        body = {
            "id": issue.id,
            "node_id": node_id("Issue", issue.id),
            "url": f"{api}/issues/{issue.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{issue.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{issue.number}/comments",
            "events_url": f"{api}/issues/{issue.number}/events",
            "html_url": f"{self.web_url}/{repo.full_name}/{kind}/{issue.number}",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self._user_json(issue.user),
            "labels": [self._label_json(repo, name) for name in issue.labels],
            "assignee": self._user_json(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self._user_json(login) for login in issue.assignees],
            "milestone": self._milestone_json(repo, repo.milestones[issue.milestone]) if issue.milestone else None,
            "locked": False,
            "active_lock_reason": None,
            "comments": issue.comments,
            "closed_at": stamp(issue.closed_at),
            "created_at": stamp(issue.created),
            "updated_at": stamp(issue.updated),
            "closed_by": self._user_json(issue.closed_by),
            "author_association": "OWNER" if role == "admin" else ("COLLABORATOR" if role else "NONE"),
            "timeline_url": f"{api}/issues/{issue.number}/timeline",
        }
        if issue.pull_request:
            body["pull_request"] = {
                "url": f"{api}/pulls/{issue.number}",
                "html_url": f"{self.web_url}/{repo.full_name}/pull/{issue.number}",
                "diff_url": f"{self.web_url}/{repo.full_name}/pull/{issue.number}.diff",
                "patch_url": f"{self.web_url}/{repo.full_name}/pull/{issue.number}.patch",
                "merged_at": None,
            }
            body["draft"] = False
        return body

    def _repo_json(self, repo: Repo, login: str | None) -> dict:
        api = f"{self.api_url}/repos/{repo.full_name}"
        web = f"{self.web_url}/{repo.full_name}"
        host = self.web_url.split("://", 1)[1]
        role = repo.role(login)
        open_issues = sum(1 for issue in repo.issues.values() if issue.state == "open" and not issue.deleted)
        body = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self._user_json(repo.owner),
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": web,
            "description": None,
            "fork": False,
            "url": api,
            **{
                f"{name}_url": f"{api}/{path}"
                for name, path in {
                    "archive": "{archive_format}{/ref}",
                    "assignees": "assignees{/user}",
                    "blobs": "git/blobs{/sha}",
                    "branches": "branches{/branch}",
                    "collaborators": "collaborators{/collaborator}",
                    "comments": "comments{/number}",
                    "commits": "commits{/sha}",
                    "compare": "compare/{base}...{head}",
                    "contents": "contents/{+path}",
                    "contributors": "contributors",
                    "deployments": "deployments",
                    "downloads": "downloads",
                    "events": "events",
                    "forks": "forks",
                    "git_commits": "git/commits{/sha}",
                    "git_refs": "git/refs{/sha}",
                    "git_tags": "git/tags{/sha}",
                    "hooks": "hooks",
                    "issue_comment": "issues/comments{/number}",
                    "issue_events": "issues/events{/number}",
                    "issues": "issues{/number}",
                    "keys": "keys{/key_id}",
                    "labels": "labels{/name}",
                    "languages": "languages",
                    "merges": "merges",
                    "milestones": "milestones{/number}",
                    "notifications": "notifications{?since,all,participating}",
                    "pulls": "pulls{/number}",
                    "releases": "releases{/id}",
                    "stargazers": "stargazers",
                    "statuses": "statuses/{sha}",
                    "subscribers": "subscribers",
                    "subscription": "subscription",
                    "tags": "tags",
                    "teams": "teams",
                    "trees": "git/trees{/sha}",
                }.items()
            },
            "clone_url": f"{web}.git",
            "git_url": f"git://{host}/{repo.full_name}.git",
            "ssh_url": f"git@{host.split(':')[0]}:{repo.full_name}.git",
            "svn_url": web,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 0,
            "default_branch": "main",
            "open_issues": open_issues,
            "open_issues_count": open_issues,
            "is_template": False,
            "topics": [],
            "has_issues": repo.has_issues,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "pushed_at": stamp(repo.created),
            "created_at": stamp(repo.created),
            "updated_at": stamp(repo.created),
            "license": None,
            "network_count": 0,
            "subscribers_count": 0,
        }
        if role is not None:
            rank = ROLES.index(role)
            body["permissions"] = {
                "admin": role == "admin",
                "maintain": rank >= ROLES.index("maintain"),
                "push": rank >= ROLES.index("write"),
                "triage": rank >= ROLES.index("triage"),
                "pull": True,
            }
        return body

    # --- helpers of the routes -------------------------------------------------------------

    def _visible(self, request: Request) -> Repo | Response:
        """The request's repository, or the 404 of one that does not exist or that the
        token's user may not see."""
        repo = self.repos.get((request.params["owner"].casefold(), request.params["repo"].casefold()))
        if repo is None or (repo.private and repo.role(request.login) is None):
            return Response(404, self.not_found_body(request))
        return repo

    def _may_write(self, request: Request, repo: Repo) -> Response | None:
        if request.login is None:
            return error(401, "Requires authentication")
        if not request.token.write:
            return error(403, "Resource not accessible by personal access token")
        if not repo.has_issues:
            return error(410, "Issues are disabled for this repo")
        return None

    def _paged(self, request: Request, items: list, render: Callable) -> Response:
        try:
            per_page = min(max(int(request.arg("per_page", "30")), 1), 100)
        except ValueError:
            per_page = 30
        try:
            page = max(int(request.arg("page", "1")), 1)
        except ValueError:
            page = 1
        last = max((len(items) + per_page - 1) // per_page, 1)
        shown = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(number: int, rel: str) -> None:
            query = {name: values[-1] for name, values in request.query.items()}
            query["page"] = str(number)
            links.append(f'<{self.api_url}{request.path}?{urlencode(query)}>; rel="{rel}"')

        if page > 1:
            link(page - 1, "prev")
        if page < last:
            link(page + 1, "next")
            link(last, "last")
        if page > 1:
            link(1, "first")
        headers = {"Link": ", ".join(links)} if links else {}
        return Response(200, [render(item) for item in shown], headers)

    def _issue_or_answer(self, request: Request, repo: Repo) -> Issue | Response:
        if not repo.has_issues:
            return error(410, "Issues are disabled for this repo")
        issue = repo.issues.get(int(request.params["number"]))
        if issue is None:
            return Response(404, self.not_found_body(request))
        if issue.moved_to:
            where, _, number = issue.moved_to.partition("#")
            url = f"{self.api_url}/repos/{where}/issues/{number}"
            answer = error(301, "Moved Permanently", headers={"Location": url})
            answer.body["url"] = url
            return answer
        if issue.deleted:
            return error(410, "This issue was deleted")
        return issue

    # --- the routes ----------------------------------------------------------------------------

    @route("GET", r"/user")
    def get_user(self, request: Request) -> Response:
        """users/get-authenticated."""
        if request.login is None:
            return error(401, "Requires authentication")
        body = self._user_json(request.login)
        user = self.users[request.login.casefold()]
        body.update(
            user_view_type="private", name=None, company=None, blog="", location=None, email=None, hireable=None,
            bio=None, twitter_username=None, public_repos=0, public_gists=0, followers=0, following=0,
            created_at=stamp(user.created), updated_at=stamp(user.created), private_gists=0, total_private_repos=0,
            owned_private_repos=0, disk_usage=0, collaborators=0, two_factor_authentication=True,
        )  # fmt: skip
        return Response(200, body)

    @route("GET", REPO)
    def get_repo(self, request: Request) -> Response:
        """repos/get."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        return Response(200, self._repo_json(repo, request.login))

    @route("GET", REPO + r"/issues")
    def list_issues(self, request: Request) -> Response:
        """issues/list-for-repo."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        if not repo.has_issues:
            return error(410, "Issues are disabled for this repo")
        state = request.arg("state", "open")
        sort = request.arg("sort", "created")
        direction = request.arg("direction", "desc")
        for name, value, allowed in (
            ("state", state, ("open", "closed", "all")),
            ("sort", sort, ("created", "updated", "comments")),
            ("direction", direction, ("asc", "desc")),
        ):
            if value not in allowed:
                return validation_failed({"resource": "Issue", "field": name, "code": "invalid"})
        since = request.arg("since")
        if since is not None:
            try:
                since_moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                return validation_failed({"resource": "Issue", "field": "since", "code": "invalid"})
            if since_moment.tzinfo is None:
                since_moment = since_moment.replace(tzinfo=UTC)
        issues = [issue for issue in repo.issues.values() if not issue.deleted and not issue.moved_to]
        if state != "all":
            issues = [issue for issue in issues if issue.state == state]
        if since is not None:
            issues = [issue for issue in issues if issue.updated.replace(microsecond=0) >= since_moment]
        if request.arg("labels"):
            wanted = {name.strip().casefold() for name in request.arg("labels").split(",")}
            issues = [issue for issue in issues if wanted <= {label.casefold() for label in issue.labels}]
        milestone = request.arg("milestone")
        if milestone == "none":
            issues = [issue for issue in issues if issue.milestone is None]
        elif milestone == "*":
            issues = [issue for issue in issues if issue.milestone is not None]
        elif milestone:
            issues = [issue for issue in issues if str(issue.milestone) == milestone]
        assignee = request.arg("assignee")
        if assignee == "none":
            issues = [issue for issue in issues if not issue.assignees]
        elif assignee == "*":
            issues = [issue for issue in issues if issue.assignees]
        elif assignee:
            issues = [issue for issue in issues if assignee.casefold() in {a.casefold() for a in issue.assignees}]
        if request.arg("creator"):
            issues = [issue for issue in issues if issue.user.casefold() == request.arg("creator").casefold()]
        order = {"created": lambda i: (i.created, i.id), "updated": lambda i: (i.updated, i.id),
                 "comments": lambda i: (i.comments, i.id)}[sort]  # fmt: skip
        issues.sort(key=order, reverse=direction == "desc")
        return self._paged(request, issues, lambda issue: self._issue_json(repo, issue))

    @route("GET", REPO + r"/issues/(?P<number>[0-9]+)")
    def get_issue(self, request: Request) -> Response:
        """issues/get."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        issue = self._issue_or_answer(request, repo)
        if isinstance(issue, Response):
            return issue
        return Response(200, self._issue_json(repo, issue))

    @route("POST", REPO + r"/issues")
    def create_issue(self, request: Request) -> Response:
        """issues/create."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        refused = self._may_write(request, repo)
        if refused:
            return refused
        data = request.json
        if not isinstance(data, dict):
            return error(400, "Problems parsing JSON")
        if data.get("title") in (None, ""):
            return validation_failed(message='Invalid request.\n\n"title" wasn\'t supplied.')
        issue = Issue(repo.next_number, str(data["title"]), request.login)
        answer = self._write(request, repo, issue, data, creating=True)
        if isinstance(answer, Response):
            return answer
        repo.next_number += 1
        repo.issues[issue.number] = issue
        body = self._issue_json(repo, issue)
        return Response(201, body, {"Location": body["url"]})

    @route("PATCH", REPO + r"/issues/(?P<number>[0-9]+)")
    def update_issue(self, request: Request) -> Response:
        """issues/update."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        refused = self._may_write(request, repo)
        if refused:
            return refused
        issue = self._issue_or_answer(request, repo)
        if isinstance(issue, Response):
            return issue
        role = repo.role(request.login)
        if role not in ("triage", *PUSH_ROLES) and issue.user.casefold() != request.login.casefold():
            return error(403, "Must have triage or push access to edit this issue.")
        data = request.json
        if not isinstance(data, dict):
            return error(400, "Problems parsing JSON")
        answer = self._write(request, repo, issue, data, creating=False)
        if isinstance(answer, Response):
            return answer
        return Response(200, self._issue_json(repo, issue))

    def _write(self, request: Request, repo: Repo, issue: Issue, data: dict, *, creating: bool) -> Response | None:
        """Checks ``data`` as GitHub does, then applies it to ``issue`` (bumping its
        ``updated_at`` when anything changed). A 422 or 400 changes nothing."""
        push = repo.role(request.login) in PUSH_ROLES
        before = (issue.title, issue.body, issue.state, issue.state_reason, list(issue.labels),
                  list(issue.assignees), issue.milestone)  # fmt: skip
        changes: dict = {}
        if "title" in data:
            title = data["title"]
            if title is None or not isinstance(title, (str, int)) or str(title) == "":
                return validation_failed({"resource": "Issue", "field": "title", "code": "missing_field"})
            if len(str(title)) > TITLE_LIMIT:
                return validation_failed(
                    {"resource": "Issue", "field": "title", "code": "custom",
                     "message": f"title is too long (maximum is {TITLE_LIMIT} characters)"}
                )  # fmt: skip
            changes["title"] = str(title)
        if "body" in data:
            if data["body"] is not None and not isinstance(data["body"], str):
                return error(400, "Problems parsing JSON")
            if len(data["body"] or "") > BODY_LIMIT:
                return validation_failed(
                    {"resource": "Issue", "field": "body", "code": "custom",
                     "message": f"body is too long (maximum is {BODY_LIMIT} characters)"}
                )  # fmt: skip
            changes["body"] = data["body"] or None
        if "state" in data and not creating:
            if data["state"] not in ("open", "closed"):
                return validation_failed({"resource": "Issue", "field": "state", "code": "invalid"})
            changes["state"] = data["state"]
        if data.get("state_reason") is not None and data["state_reason"] not in (
            "completed", "not_planned", "duplicate", "reopened",
        ):  # fmt: skip
            return validation_failed({"resource": "Issue", "field": "state_reason", "code": "invalid"})
        assignees = None
        if "assignees" in data:
            assignees = [item["login"] if isinstance(item, dict) else item for item in data["assignees"] or []]
        elif "assignee" in data:
            assignees = [data["assignee"]] if data["assignee"] else []
        if assignees is not None:
            logins = []
            for login in assignees:
                if not isinstance(login, str) or repo.role(login) not in PUSH_ROLES:
                    return validation_failed(
                        {"value": login, "resource": "Issue", "field": "assignees", "code": "invalid"}
                    )
                logins.append(self.users[login.casefold()].login)
            if push:
                changes["assignees"] = logins
        if "milestone" in data:
            milestone = data["milestone"]
            if milestone is not None:
                try:
                    milestone = int(milestone)
                except (TypeError, ValueError):
                    return validation_failed({"resource": "Issue", "field": "milestone", "code": "invalid"})
                if milestone not in repo.milestones:
                    return validation_failed(
                        {"value": data["milestone"], "resource": "Issue", "field": "milestone", "code": "invalid"}
                    )
            if push:
                changes["milestone"] = milestone
        if "labels" in data:
            names = [item["name"] if isinstance(item, dict) else item for item in data["labels"] or []]
            if any(not isinstance(name, str) or not name.strip() for name in names):
                return validation_failed({"resource": "Label", "field": "name", "code": "missing_field"})
            if push:
                changes["labels"] = [self._create_label(repo, name)["name"] for name in dict.fromkeys(names)]
        for name, value in changes.items():
            if name == "state":
                self._set_state(issue, value, data.get("state_reason"), request.login)
            else:
                setattr(issue, name, value)
        after = (issue.title, issue.body, issue.state, issue.state_reason, list(issue.labels),
                 list(issue.assignees), issue.milestone)  # fmt: skip
        if creating or after != before:
            issue.updated = datetime.now(UTC)
        return None

    @route("GET", REPO + r"/labels")
    def list_labels(self, request: Request) -> Response:
        """issues/list-labels-for-repo."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        labels = sorted(repo.labels.values(), key=lambda label: label["name"].casefold())
        return self._paged(request, labels, lambda label: self._label_json(repo, label["name"]))

    @route("GET", REPO + r"/milestones")
    def list_milestones(self, request: Request) -> Response:
        """issues/list-milestones."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        state = request.arg("state", "open")
        if state not in ("open", "closed", "all"):
            return validation_failed({"resource": "Milestone", "field": "state", "code": "invalid"})
        milestones = [m for m in repo.milestones.values() if state == "all" or m.state == state]
        return self._paged(request, milestones, lambda milestone: self._milestone_json(repo, milestone))

    @route("GET", REPO + r"/assignees")
    def list_assignees(self, request: Request) -> Response:
        """issues/list-assignees."""
        repo = self._visible(request)
        if isinstance(repo, Response):
            return repo
        logins = sorted(
            {repo.owner, *(self.users[login].login for login, role in repo.roles.items() if role in PUSH_ROLES)},
            key=str.casefold,
        )
        return self._paged(request, logins, self._user_json)
