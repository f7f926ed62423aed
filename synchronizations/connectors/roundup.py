"""The Roundup connector: issues of a Roundup tracker through its REST interface
(Roundup 2.x, the ``classic`` schema or one like it).

Repository:

- ``base_url``: the tracker's web address as its config.ini ``[tracker] web`` says,
  e.g. ``http://127.0.0.1:8081/demo/``; the REST interface is under ``rest/``.
- ``username`` / secret: a Roundup user with "Rest Access" that may view, create and
  edit issues, messages and keywords (the classic role "User" may). Every call
  authenticates with HTTP basic auth and carries ``X-Requested-With: rest`` and the
  tracker's ``Origin`` / ``Referer`` (Roundup's CSRF protection refuses writes
  without them).
- ``settings``: ``{"page_size": 100, "settle_seconds": 5}`` (both optional; see
  change detection below).

Scope: Roundup has no projects. A mapping's scope is "" (every issue of the tracker)
or the name of a keyword: the issues carrying it are in scope, and issues created in
the scope get it. check() says when the keyword does not exist; the connector never
creates keywords. A write never takes an issue out of a mapping's scope: update()
keeps the keywords that are the scope of a mapping on this repository. Two sides
overlap (Mapping.clean() refuses them) when their keywords are the same or either is
"" (the default rule): an issue created in one keyword's scope gets that keyword only,
so it enters no other scope by itself; an issue a person tags with the keywords of two
mappings is taken by the first that sees it, and change detection leaves it alone in
the other (it is linked elsewhere).

Fields, by name (values by name, never Roundup's ids):

- ``title``: text ("" when unset); Roundup strips it.
- ``status``, ``priority``: the status / priority name, "" when unset.
- ``assignedto``: the username, "" when unset.
- ``keywords``: the keyword names, sorted (Roundup's property ``keyword``).
- ``messages``: the message texts, oldest first. Writing appends the texts not yet
  there (counting repeats) as new messages by our user; it never removes one.
- any other property of Roundup's issue class: as Roundup's REST gives it, a link as
  the linked id, a multilink as a list of ids, other values as they are; written as
  given (Roundup checks them).

A name no status, priority, user or keyword has is a FieldRefused naming the field
and the value, raised before anything is written. Names are resolved through the REST
lists (users one by one, by exact username), cached for the connector's life.

Keys, URLs, versions: an issue's key is ``issue12``, its URL ``base_url + "issue12"``,
its version Roundup's ETag (``@etag``). update() sends it as ``If-Match``: Roundup
itself refuses a write to an issue changed since (412, a ConflictError). A retired
issue (Roundup's delete) is reported deleted by get().

What update() and create() return is the issue as read after the write. If it does
not show what was written (a detector changed a value, or someone edited it in the
instant after the write), the returned artifact shows what was written instead, so
that the next change detection sees the difference as a change, and its version is
"" (stale: an update with it is a ConflictError).

Change detection by activity time, oldest first. Roundup shows activity to the
second (it sorts by the milliseconds it stores), and its filters read times in the
user's time zone: the connector filters with an explicit ``+0000``. The cursor is
``"<second>|<issue id>"`` (``"2025-03-01.12:00:07|42"``, UTC): every change before
that second has been returned, and in that second the issues up to issue 42 in
Roundup's activity order. The cursor only ever points into a *settled* second, one
that ended at least ``settle_seconds`` before the tracker's clock (its HTTP Date) at
the time of reading, so that no edit can land in it any more; changes in later
seconds are returned but not passed by the cursor, and are returned again by the next
call (overlap is safe, missing one is not). A re-edit of an issue moves it out of its
second: if the issue the cursor names moved, the whole second is read again. Lists
are read ``page_size`` issues at a time, each page from the position reached (not
by page number, which shifts when an issue is edited meanwhile), and a page is
doubled while one second holds more issues than it. An unreadable cursor starts over.
(One issue names the position, not the list of issues seen in the second: a mapping's
cursor holds 200 characters, and a second can hold many more issues than that.)

Costs: a changed issue is read with one call (plus one per MESSAGES_PER_CALL
messages not read before); get() makes a second one, to tell a retired issue (which
Roundup still serves) from a live one. Messages are created before the write that
links them to their issue: a write refused after that leaves them unlinked (no page
shows them).

Every HTTP failure is mapped by the foundation (connectors/http.py), with Roundup's own
meanings: 409 is a value its hyperdb rejects (a refusal naming the field, not a
concurrent edit: that is 412 only); a 403 about an issue is a permission on that issue
or field (the sync's error), while one on the tracker as a whole pauses the repository;
a 400 "An error occurred" is a failure inside Roundup (transient). Names are resolved
before writing, so that the connector does not send values it knows to be refused.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from django.db.models import Q

from synchronizations.connectors.base import Artifact, Changes
from synchronizations.connectors.http import HttpConnector
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    TransientError,
)
from synchronizations.models import Mapping

# The fields every Roundup issue presents, whatever the schema.
FIXED_FIELDS = ("title", "status", "priority", "assignedto", "keywords", "messages")
# Link fields: field -> the class it links to.
LINK_CLASSES = {"status": "status", "priority": "priority", "assignedto": "user"}
# The property holding each class's name (its key in the classic schema).
NAME_PROPERTY = {"status": "name", "priority": "name", "keyword": "name", "user": "username"}
# Properties Roundup maintains itself: not presented, not writable.
PROTECTED = frozenset({"id", "activity", "actor", "creation", "creator"})
# Roundup's properties presented under another name.
RENAMED = {"keyword": "keywords"}

DEFAULT_PAGE_SIZE = 100
DEFAULT_SETTLE_SECONDS = 5
MESSAGES_PER_CALL = 50
# A second with more changed issues than this is not read (a page is doubled up to it).
LONGEST_PAGE = 100_000
# Pages read at most by one changed_since() call (each page makes progress).
MAX_PAGES_PER_CALL = 1000

ISSUE_KEY = re.compile(r"issue([1-9][0-9]*)")
SECOND = r"\d{4}-\d\d-\d\d\.\d\d:\d\d:\d\d"
CURSOR = re.compile(rf"({SECOND})\|([1-9][0-9]*)")
PROPERTY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# How Roundup's REST errors name a property (rest.py, hyperdb.py).
REFUSALS = [
    re.compile(r"\bproperty (?P<field>\w+):", re.IGNORECASE),
    re.compile(r"\bproperty (?P<field>\w+) not found", re.IGNORECASE),
    re.compile(r"unknown property: (?P<field>\w+)", re.IGNORECASE),
    re.compile(r"must provide the '?(?P<field>\w+)'? property", re.IGNORECASE),
    re.compile(r"\bfield (?P<field>\w+) is not", re.IGNORECASE),
]

Row = tuple[str, str]  # (issue id, activity second) as a list of issues gives them


@dataclass(frozen=True)
class Fetched:
    """An issue as read: the artifact, and the ids behind its messages and keywords."""

    artifact: Artifact
    message_ids: list[str]  # in the order of artifact.fields["messages"]
    keyword_ids: dict[str, str]  # name -> id


class RoundupConnector(HttpConnector):
    """Roundup issues over REST; see the module's docstring for the repository's
    settings, the scope, the fields, the cursor and the errors."""

    kind = "roundup"

    def __init__(self, repository):
        super().__init__(repository)
        self.page_size = self.whole_number_setting("page_size", DEFAULT_PAGE_SIZE, 1, 10_000)
        self.settle_seconds = self.whole_number_setting("settle_seconds", DEFAULT_SETTLE_SECONDS, 1, 3600)
        self._ids: dict[str, dict[str, str]] = {}  # class -> {name: id}, for status, priority, keyword
        self._users: dict[str, str] = {}  # username -> id, as resolved
        self._texts: dict[str, str] = {}  # message id -> its text (Roundup's messages do not change)
        self._my_id: str | None = None

    # --- the foundation's hooks --------------------------------------------------------

    def auth(self) -> httpx.Auth:
        return httpx.BasicAuth(self.repository.username, self.repository.secret_value())

    def headers(self) -> dict[str, str]:
        parts = urlsplit(self.base_url)
        return {
            "X-Requested-With": "rest",
            "Origin": f"{parts.scheme}://{parts.netloc}",
            "Referer": self.base_url + "/",
        }

    conflict_statuses = (412,)
    refusal_statuses = (400, 409, 422)

    def forbidden(self, response: httpx.Response, key: str | None, detail: str) -> Exception:
        """A 403 about an issue ("Permission to edit title of issue5 denied") is that
        issue's; elsewhere our user lacks a permission on the tracker: it pauses."""
        if key:
            return PermanentError(
                f"'{self.repository.name}' denied permission on {key}: {self._said(response)}", detail
            )
        return super().forbidden(response, key, detail)

    def error_for(self, response: httpx.Response, key: str | None = None) -> Exception:
        """As the foundation's, but Roundup's 400 "An error occurred" (an exception
        inside Roundup) is transient, not a refused value."""
        if response.status_code == 400 and "an error occurred" in self._said(response).lower():
            return TransientError(f"'{self.repository.name}' failed inside Roundup (HTTP 400 'An error occurred')")
        return super().error_for(response, key)

    @staticmethod
    def _said(response: httpx.Response) -> str:
        try:
            return str(response.json()["error"]["msg"]).strip()[:300]
        except (ValueError, KeyError, TypeError):
            return response.text.strip()[:300]

    def refused_field(self, response: httpx.Response) -> tuple[str, str]:
        """The field a Roundup REST error names (``{"error": {"msg": ...}}``), under
        the name this connector presents it by, and the message."""
        try:
            said = str(response.json()["error"]["msg"])
        except (ValueError, KeyError, TypeError):
            said = response.text
        said = said.strip().strip("'\"")[:300]
        for pattern in REFUSALS:
            found = pattern.search(said)
            if found:
                return RENAMED.get(found["field"], found["field"]), said
        return "", said

    # --- the interface -------------------------------------------------------------------

    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        """Issues in ``scope`` changed since ``cursor``, oldest change first, at most
        ``limit``; the cursor of what was returned up to the last settled second (see
        the module's docstring). PermanentError when the scope keyword does not exist."""
        keyword = self._scope_keyword(scope)
        position = emitted = parse_cursor(cursor)
        picked: list[str] = []
        settled = True
        size = self.page_size
        for _ in range(MAX_PAGES_PER_CALL):
            if len(picked) >= limit:
                break
            rows, now = self._activity_page(keyword, position[0], size)
            fresh = rows_after(rows, *position)
            if not fresh and len(rows) == size:  # one second fills the page: read a longer one
                if size >= LONGEST_PAGE:
                    raise PermanentError(
                        f"More than {LONGEST_PAGE} issues of '{self.repository.name}' changed within one second"
                    )
                size = min(size * 2, LONGEST_PAGE)
                continue
            for issue_id, second in fresh:
                if len(picked) >= limit:
                    break
                position = (second, issue_id)
                if issue_id not in picked:
                    picked.append(issue_id)
                settled = settled and is_settled(second, now, self.settle_seconds)
                if settled:
                    emitted = position
            if len(rows) < size:  # the end of the list
                break
            size = self.page_size
        artifacts = []
        for issue_id in picked:
            try:
                artifacts.append(self._read(issue_id))
            except ArtifactDeleted:
                continue  # gone since it was listed
        return Changes(artifacts, format_cursor(*emitted))

    def get(self, key: str) -> Artifact:
        """The issue ``key`` ("issue12"); ArtifactDeleted when it does not exist or is
        retired."""
        issue_id = self._issue_id(key)
        artifact = self._read(issue_id)
        listed = self._data(self.request("GET", "rest/data/issue", params={"id": issue_id}))
        if not listed.get("collection"):
            raise ArtifactDeleted(key, self.repository.name, "The issue is retired in Roundup.")
        return artifact

    def create(self, scope: str, fields: dict) -> Artifact:
        """A new issue with ``fields``, carrying the scope keyword. FieldRefused for a
        value Roundup does not have, before anything is written; PermanentError when
        the scope keyword does not exist."""
        props = self._props(fields)
        texts = message_texts(fields.get("messages"))
        keyword = self._scope_keyword(scope)
        expected = self._expected(fields)
        if keyword:
            props["keyword"] = sorted({*props.get("keyword", []), keyword}, key=int)
            expected["keywords"] = sorted({*expected.get("keywords", []), scope})
        if texts:
            props["messages"] = [self._post_message(text) for text in texts]
        created = self._data(self.request("POST", "rest/data/issue", json=props))
        return as_written(self._read(str(created["id"])), expected)

    def update(self, key: str, fields: dict, version: str) -> Artifact:
        """Writes ``fields`` (others are kept) with ``If-Match: version``:
        ConflictError when the issue changed since it was read at ``version``.
        Messages are appended, never removed; the keywords that scope a mapping on
        this repository stay. FieldRefused for a value Roundup does not have, before
        anything is written."""
        issue_id = self._issue_id(key)
        props = self._props(fields)
        expected = self._expected(fields)
        if "messages" in fields or "keyword" in props or not props:
            # What is written depends on the issue as it is: read it, at our version.
            current = self._fetch(issue_id)
            if current.artifact.version != version:
                raise ConflictError(f"{key} changed in '{self.repository.name}' since it was read")
            if "keyword" in props:
                kept = self._scope_keywords() & set(current.keyword_ids)
                expected["keywords"] = sorted({*expected["keywords"], *kept})
                ids = {*props["keyword"], *(current.keyword_ids[name] for name in kept)}
                props["keyword"] = sorted(ids, key=int)
            if "messages" in fields:
                existing = current.artifact.fields["messages"]
                new = missing_texts(existing, message_texts(fields["messages"]))
                expected["messages"] = existing + new
                if new:
                    props["messages"] = current.message_ids + [self._post_message(text) for text in new]
            if not props:
                return as_written(current.artifact, expected)
        self.request("PUT", f"rest/data/issue/{issue_id}", key=key, json=props, headers={"If-Match": version})
        return as_written(self._read(issue_id), expected)

    def url(self, key: str) -> str:
        return f"{self.base_url}/{key}"

    def ping(self) -> None:
        """Looks our own user up (needs valid credentials and REST access)."""
        self._my_id = None
        self._users.pop(self.repository.username, None)
        self._me()

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """Whether the scope keyword exists and each field is one this connector
        presents (the fixed fields, or a property of Roundup's issue class)."""
        self.ping()
        name = self.repository.name
        problems = []
        if scope and scope not in self._names("keyword"):
            problems.append(
                f"The scope keyword '{scope}' does not exist in '{name}' "
                "(a Roundup scope is a keyword: create it there)."
            )
        for field in fields:
            if field in FIXED_FIELDS:
                continue
            if field in RENAMED:
                problems.append(f"Field '{field}' is called '{RENAMED[field]}' here.")
            elif field in PROTECTED:
                problems.append(f"Field '{field}' is maintained by Roundup itself and cannot be synced.")
            elif not PROPERTY_NAME.fullmatch(field) or not self._issue_has(field):
                problems.append(
                    f"Field '{field}' does not exist in '{name}' (Roundup's issue class has no such property)."
                )
        return problems

    # --- reading -------------------------------------------------------------------------

    def _read(self, issue_id: str) -> Artifact:
        """The issue as the connector presents it, with its ETag."""
        return self._fetch(issue_id).artifact

    def _fetch(self, issue_id: str) -> Fetched:
        """The issue as presented, and the ids behind its messages and keywords (one
        call for the issue, and one per MESSAGES_PER_CALL messages not read before)."""
        key = f"issue{issue_id}"
        params = {"@verbose": "2", "@protected": "true"}
        data = self._data(self.request("GET", f"rest/data/issue/{issue_id}", key=key, params=params))
        attributes = data.get("attributes") or {}
        message_ids = sorted((str(link["id"]) for link in attributes.get("messages") or []), key=int)
        keyword_ids = {label(link, "name"): str(link["id"]) for link in attributes.get("keyword") or []}
        fields = {
            "title": attributes.get("title") or "",
            "status": label(attributes.get("status"), "name"),
            "priority": label(attributes.get("priority"), "name"),
            "assignedto": label(attributes.get("assignedto"), "username"),
            "keywords": sorted(keyword_ids),
            "messages": self._message_texts(message_ids),
        }
        for name, value in attributes.items():
            if name not in fields and name not in PROTECTED and name not in RENAMED:
                fields[name] = plain(value)
        artifact = Artifact(
            key=key,
            fields=fields,
            version=str(data.get("@etag") or ""),
            url=self.url(key),
            updated_at=parse_second(attributes.get("activity") or "") or datetime.now(UTC),
        )
        return Fetched(artifact, message_ids, keyword_ids)

    def _message_texts(self, ids: list[str]) -> list[str]:
        """The texts of messages ``ids``, in that order, read MESSAGES_PER_CALL at a time
        (each only once per connector)."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._texts]
        for start in range(0, len(missing), MESSAGES_PER_CALL):
            chunk = missing[start : start + MESSAGES_PER_CALL]
            params = [("id", i) for i in chunk] + [("@fields", "content"), ("@verbose", "3")]
            for row in self._data(self.request("GET", "rest/data/msg", params=params)).get("collection") or []:
                content = row.get("content")
                self._texts[str(row["id"])] = content if isinstance(content, str) else ""
            for message_id in chunk:  # retired messages are not listed, but still readable
                if message_id not in self._texts:
                    self._texts[message_id] = self._message_text(message_id)
        return [self._texts[i] for i in ids]

    def _message_text(self, message_id: str) -> str:
        try:
            response = self.request(
                "GET", f"rest/data/msg/{message_id}", key=f"msg{message_id}", params={"@verbose": "3"}
            )
        except ArtifactDeleted:
            return ""
        content = (self._data(response).get("attributes") or {}).get("content")
        return content if isinstance(content, str) else ""

    def _activity_page(self, keyword: str | None, since: str, size: int) -> tuple[list[Row], datetime]:
        """Up to ``size`` issues (in scope) changed in or after second ``since``, in
        Roundup's activity order, and the tracker's clock when it answered."""
        params = {"@sort": "activity,id", "@fields": "activity", "@page_size": str(size)}
        if since:
            params["activity"] = f"{since}+0000;"
        if keyword:
            params["keyword"] = keyword
        response = self.request("GET", "rest/data/issue", params=params)
        rows = [
            (str(row["id"]), str(row.get("activity") or "")) for row in self._data(response).get("collection") or []
        ]
        return rows[:size], tracker_clock(response)

    # --- writing -------------------------------------------------------------------------

    def _props(self, fields: dict) -> dict:
        """Roundup's property values (ids) for ``fields``, messages aside. FieldRefused
        for a name Roundup does not have or a field that cannot be written."""
        props = {}
        for name, value in fields.items():
            if name == "messages":
                message_texts(value)  # refuses what is not a list of texts
            elif name == "title":
                props["title"] = "" if value is None else self._text(name, value)
            elif name in LINK_CLASSES:
                props[name] = self._id_of(name, value) if value not in (None, "") else ""
            elif name == "keywords":
                props["keyword"] = sorted({self._id_of(name, item) for item in self._list(name, value)}, key=int)
            elif name in PROTECTED or name in RENAMED:
                raise self._refused(name, f"'{name}' cannot be written through this connector")
            else:
                props[name] = value  # another property: Roundup checks it
        return props

    def _expected(self, fields: dict) -> dict:
        """How the fixed fields among ``fields`` read back once written (messages aside)."""
        expected = {}
        for name, value in fields.items():
            if name == "title":
                expected[name] = "" if value is None else str(value).replace("\r\n", "\n").strip()
            elif name in LINK_CLASSES:
                expected[name] = value or ""
            elif name == "keywords":
                expected[name] = sorted(set(value or []))
        return expected

    def _post_message(self, text: str) -> str:
        """A new message by our user; its id."""
        body = {"content": text, "author": self._me(), "date": "."}
        created = self._data(self.request("POST", "rest/data/msg", json=body))
        message_id = str(created["id"])
        self._texts[message_id] = text.strip()
        return message_id

    def _id_of(self, field: str, name) -> str:
        """The id of the status / priority / user / keyword called ``name``, for
        ``field``; FieldRefused naming both when there is none."""
        name = self._text(field, name)
        if field == "assignedto":
            found = self._user_id(name)
        else:
            found = self._names("keyword" if field == "keywords" else LINK_CLASSES[field]).get(name)
        if found is None:
            raise self._refused(field, f"{name!r} is not a {'keyword' if field == 'keywords' else LINK_CLASSES[field]}")
        return found

    def _text(self, field: str, value) -> str:
        if not isinstance(value, str):
            raise self._refused(field, f"{value!r} is not a text")
        return value

    def _list(self, field: str, value) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._refused(field, f"{value!r} is not a list")
        return value

    def _refused(self, field: str, said: str) -> FieldRefused:
        return FieldRefused(f"'{self.repository.name}' refused the value of field '{field}': {said}", field=field)

    # --- names and ids -------------------------------------------------------------------

    def _names(self, klass: str) -> dict[str, str]:
        """{name: id} of every status, priority or keyword (``klass``), read once."""
        if klass not in self._ids:
            response = self.request("GET", f"rest/data/{klass}", params={"@verbose": "2"})
            prop = NAME_PROPERTY[klass]
            rows = self._data(response).get("collection") or []
            self._ids[klass] = {row[prop]: str(row["id"]) for row in rows if row.get(prop) is not None}
        return self._ids[klass]

    def _user_id(self, username: str) -> str | None:
        """The id of the user called exactly ``username`` (None: no such user)."""
        if username not in self._users:
            params = {"username:": username, "@fields": "username"}
            rows = self._data(self.request("GET", "rest/data/user", params=params)).get("collection") or []
            found = [str(row["id"]) for row in rows if row.get("username") == username]
            if not found:
                return None
            self._users[username] = found[0]
        return self._users[username]

    def _me(self) -> str:
        """Our own user's id. RepositoryError (from the foundation) when Roundup refuses
        the credentials; PermanentError when the user is not visible to itself."""
        if self._my_id is None:
            username = self.repository.username
            found = self._user_id(username) if username else None
            if found is None:
                raise PermanentError(f"'{self.repository.name}' has no user '{username}' that we can see")
            self._my_id = found
        return self._my_id

    def _scope_keyword(self, scope: str) -> str | None:
        """The id of the scope's keyword (None for the whole tracker); PermanentError
        when it does not exist."""
        if not scope:
            return None
        found = self._names("keyword").get(scope)
        if found is None:
            raise PermanentError(
                f"The scope keyword '{scope}' does not exist in '{self.repository.name}'",
                "A Roundup scope is a keyword name: create the keyword in Roundup, or correct the mapping's scope.",
            )
        return found

    def _scope_keywords(self) -> set[str]:
        """The keywords that are the scope of a mapping on this repository."""
        rows = Mapping.objects.filter(Q(left=self.repository) | Q(right=self.repository)).values_list(
            "left_id", "left_scope", "right_id", "right_scope"
        )
        pk = self.repository.pk
        return {
            scope
            for left_id, left_scope, right_id, right_scope in rows
            for scope in (left_scope if left_id == pk else "", right_scope if right_id == pk else "")
            if scope
        }

    def _issue_has(self, prop: str) -> bool:
        """Whether Roundup's issue class has property ``prop`` (asked through a list
        that matches no issue: Roundup refuses an unknown property in ``@fields``)."""
        try:
            self.request("GET", "rest/data/issue", params={"id": "0", "@fields": prop})
        except FieldRefused:
            return False
        return True

    # --- small helpers -------------------------------------------------------------------

    def _issue_id(self, key: str) -> str:
        found = ISSUE_KEY.fullmatch(key or "")
        if found is None:
            raise ArtifactDeleted(key, self.repository.name, "A Roundup issue's key is 'issue' and its number.")
        return found.group(1)

    def _data(self, response: httpx.Response) -> dict:
        """The ``data`` of a Roundup REST answer; PermanentError when it has none."""
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError):
            data = None
        if not isinstance(data, dict):
            raise PermanentError(
                f"'{self.repository.name}' did not answer as Roundup's REST interface does "
                f"({response.request.method} {response.request.url.path})",
                response.text[:2000],
            )
        return data


# --- pure functions ------------------------------------------------------------------------


def parse_cursor(cursor: str) -> tuple[str, str]:
    """(second, issue id) of a cursor; ("", "") for "" and for one this connector did
    not write (change detection starts over: overlap is safe)."""
    found = CURSOR.fullmatch(cursor or "")
    return (found.group(1), found.group(2)) if found else ("", "")


def format_cursor(second: str, issue_id: str) -> str:
    return f"{second}|{issue_id}" if second and issue_id else ""


def rows_after(rows: list[Row], second: str, anchor: str) -> list[Row]:
    """The rows of a list that starts at ``second`` which follow issue ``anchor`` in
    that second; all of them when ``anchor`` is not (or no longer) in that second.
    [] when the rows end at the anchor or before it is reached (read a longer page)."""
    if not anchor:
        return rows
    for index, (issue_id, at) in enumerate(rows):
        if at != second:
            return rows  # the anchor moved out of its second: read the second again
        if issue_id == anchor:
            return rows[index + 1 :]
    return []


def is_settled(second: str, now: datetime, settle_seconds: int) -> bool:
    """Whether no edit can land in ``second`` any more: it ended ``settle_seconds``
    before ``now`` (the tracker's clock)."""
    moment = parse_second(second)
    return moment is not None and moment + timedelta(seconds=1 + settle_seconds) <= now


def parse_second(text: str) -> datetime | None:
    """A Roundup date ("2025-03-01.12:00:07", UTC) as an aware datetime; None if unreadable."""
    try:
        return datetime.strptime(text, "%Y-%m-%d.%H:%M:%S").replace(tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def tracker_clock(response: httpx.Response) -> datetime:
    """The tracker's time when it answered (its Date header), else ours."""
    try:
        moment = parsedate_to_datetime(response.headers.get("Date", ""))
    except (TypeError, ValueError, IndexError):
        return datetime.now(UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def label(link, prop: str) -> str:
    """The name a ``@verbose=2`` link carries ("" for an empty link)."""
    if not isinstance(link, dict):
        return ""
    return str(link.get(prop) or link.get("id") or "")


def plain(value):
    """Another property's value as presented: links as ids."""
    if isinstance(value, dict) and "id" in value:
        return str(value["id"])
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def as_written(read: Artifact, expected: dict) -> Artifact:
    """``read`` (an issue read after our write) when it shows the ``expected`` values
    of what we wrote; otherwise what we wrote on top of it, with the stale version ""
    (something changed it since: the next change detection must see that change, and
    an update() at this version is a ConflictError)."""
    if all(read.fields.get(name) == value for name, value in expected.items()):
        return read
    return Artifact(read.key, {**read.fields, **expected}, "", read.url, read.updated_at)


def message_texts(value) -> list[str]:
    """The texts of a ``messages`` value, stripped as Roundup stores them, empty ones
    left out. FieldRefused when it is not a list of texts."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise FieldRefused(f"The value of field 'messages' must be a list of texts, not {value!r}", field="messages")
    return [text.strip() for text in value if text.strip()]


def missing_texts(existing: list[str], wanted: list[str]) -> list[str]:
    """The texts of ``wanted`` not among ``existing``, counting repeats, in order."""
    unmatched = list(existing)
    new = []
    for text in wanted:
        if text in unmatched:
            unmatched.remove(text)
        else:
            new.append(text)
    return new
