"""The base of connectors that talk to a tracker over HTTP: one client per
repository and process (httpx, with timeouts), and every failure mapped once to the
engine's errors, whatever the tracker:

| what happened | error |
| --- | --- |
| connection refused, DNS, timeout, broken connection | TransientError |
| HTTP 429 and 5xx | TransientError, with ``retry_after`` from a Retry-After header |
| HTTP 401 / 403 | RepositoryError (the repository pauses; no sync error) |
| HTTP 404 on an artifact | ArtifactDeleted |
| HTTP 409 / 412 (``conflict_statuses``) | ConflictError (a concurrent edit; nothing was overwritten) |
| HTTP 400 / 422 (``refusal_statuses``) | FieldRefused, naming the field when the tracker says which |
| any other 4xx | PermanentError |

A tracker whose statuses mean something else says so: ``conflict_statuses``,
``refusal_statuses``, and ``forbidden()`` for a 403 that concerns one artifact.

Error details carry the response body (cut to DETAIL_CHARS), never the request's
headers, and the repository's secret is blotted out of them.
"""

import hashlib
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings

from synchronizations.connectors.base import Connector
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    RepositoryError,
    SyncError,
    TransientError,
)

DETAIL_CHARS = 2000
# A Retry-After longer than this (seconds) is taken as this: the attempt limit and
# the operator decide what happens after a day.
LONGEST_RETRY_AFTER = 86_400.0
# Pages read at most by paginate(): a tracker that never stops paging is an error,
# not a hang.
MAX_PAGES = 100_000

_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for: a number of seconds or an HTTP date
    (RFC 9110 §10.2.3); None when absent or unreadable. Bounded by LONGEST_RETRY_AFTER."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
    else:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), LONGEST_RETRY_AFTER)


class HttpConnector(Connector):
    """A connector over HTTP. Subclasses set up authentication (``auth()`` /
    ``headers()``), say how a refused value names its field (``refused_field()``),
    and call ``request()`` / ``paginate()``; every error they see is already one of
    the engine's."""

    def __init__(self, repository):
        super().__init__(repository)
        self.settings = repository.settings or {}
        self.base_url = (repository.base_url or "").rstrip("/")

    # --- what subclasses provide --------------------------------------------------

    def auth(self) -> httpx.Auth | None:
        """Authentication for every request (e.g. httpx.BasicAuth); None: none."""
        return None

    def headers(self) -> dict[str, str]:
        """Headers sent with every request (e.g. an API key header)."""
        return {}

    # Which statuses mean what, where a tracker differs (Roundup answers 409 for a
    # value it refuses, and only 412 for a concurrent edit).
    conflict_statuses: tuple[int, ...] = (409, 412)
    refusal_statuses: tuple[int, ...] = (400, 422)

    def refused_field(self, response: httpx.Response) -> tuple[str, str]:
        """(field, what the tracker said) of a refusal (400/422); the field may be ""."""
        return "", response.text[:300]

    def forbidden(self, response: httpx.Response, key: str | None, detail: str) -> Exception:
        """The error for a 403. By default the repository's: our credentials lack a
        permission, so it pauses. A tracker whose 403 can concern one artifact or
        field only (Roundup) says so for calls about an artifact."""
        return RepositoryError(f"'{self.repository.name}' denied us permission (HTTP 403)", detail, self.repository.pk)

    def whole_number_setting(self, name: str, default: int, low: int, high: int) -> int:
        """The repository setting ``name`` (``default`` when unset): a whole number
        from ``low`` to ``high``. PermanentError naming the setting otherwise; a
        connector reads its settings when it is made, so Repository.clean() refuses
        a bad one when it is saved."""
        value = self.settings.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise PermanentError(
                f"Repository '{self.repository.name}': setting '{name}' must be a whole number "
                f"from {low} to {high}, not {value!r}"
            )
        return value

    # --- the client -----------------------------------------------------------------

    def client(self) -> httpx.Client:
        """The process's client for this repository as configured now (a change of
        URL, credentials or settings makes a new one)."""
        secret = self.repository.secret_value()
        if not secret.isprintable():
            raise self._unsendable()
        fingerprint = hashlib.sha256(
            f"{self.base_url}|{self.repository.username}|{secret}|{sorted(self.settings.items())}".encode()
        ).hexdigest()
        key = (self.repository.pk, fingerprint)
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                for stale in [k for k in _clients if k[0] == self.repository.pk]:
                    _clients.pop(stale).close()
                timeout = settings.SYNCWEB_HTTP_TIMEOUT
                client = httpx.Client(
                    base_url=self.base_url,
                    auth=self.auth(),
                    headers={"Accept": "application/json", "User-Agent": "syncweb", **self.headers()},
                    timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                    follow_redirects=False,
                )
                _clients[key] = client
        return client

    def request(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> httpx.Response:
        """One call; returns the answer when it is a success (2xx). ``key``: the
        artifact the call is about, so that a 404 means "deleted". Raises the
        engine's errors as the module's table says."""
        name = self.repository.name
        try:
            response = self.client().request(method, path, **kwargs)
        except (UnicodeEncodeError, httpx.LocalProtocolError):  # a header value HTTP cannot carry
            error = self._unsendable()
        except httpx.TimeoutException as exc:
            error = TransientError(f"'{name}' did not answer in time ({type(exc).__name__})")
        except httpx.TransportError as exc:
            error = TransientError(f"Cannot reach '{name}': {self._blot(str(exc)) or type(exc).__name__}")
        else:
            if response.is_success:
                return response
            error = self.error_for(response, key)
        if isinstance(error, SyncError):
            error.repository_id = self.repository.pk
        raise error

    def error_for(self, response: httpx.Response, key: str | None = None) -> Exception:
        """The engine's error for an answer that is not a success."""
        name = self.repository.name
        status = response.status_code
        detail = self._blot(f"{response.request.method} {response.request.url.path} -> HTTP {status}\n{response.text}")
        detail = detail[:DETAIL_CHARS]
        if status == 429 or status >= 500:
            wait = retry_after_seconds(response.headers.get("Retry-After"))
            reason = "is rate limiting us" if status == 429 else "failed"
            return TransientError(f"'{name}' {reason} (HTTP {status})", detail, retry_after=wait)
        if status == 401:
            return RepositoryError(f"'{name}' refused our credentials (HTTP 401)", detail, self.repository.pk)
        if status == 403:
            return self.forbidden(response, key, detail)
        if status == 404 and key:
            return ArtifactDeleted(key, name, detail)
        if status in self.conflict_statuses:
            what = key or "the artifact"
            return ConflictError(f"{what} changed in '{name}' while it was being updated (HTTP {status})", detail)
        if status in self.refusal_statuses:
            field, said = self.refused_field(response)
            said = self._blot(said)
            if field:
                return FieldRefused(f"'{name}' refused the value of field '{field}': {said}", detail, field)
            return FieldRefused(f"'{name}' refused the change (HTTP {status}): {said}", detail)
        return PermanentError(
            f"'{name}' answered HTTP {status} to {response.request.method} {response.request.url.path}", detail
        )

    def paginate(
        self,
        path: str,
        params: dict,
        *,
        items: Callable[[httpx.Response], list],
        next_params: Callable[[httpx.Response, dict, int], dict | None],
    ) -> Iterator[Any]:
        """Every item of a paged list, to the end: ``items(answer)`` are a page's
        items, ``next_params(answer, params, count)`` the parameters of the next page
        (None: this was the last). Raises PermanentError after MAX_PAGES pages."""
        for _ in range(MAX_PAGES):
            response = self.request("GET", path, params=params)
            page = items(response)
            yield from page
            following = next_params(response, params, len(page))
            if following is None:
                return
            params = following
        raise PermanentError(f"'{self.repository.name}' kept paging {path} past {MAX_PAGES} pages")

    def _unsendable(self) -> RepositoryError:
        return RepositoryError(
            f"Repository '{self.repository.name}': its credentials have a character an HTTP request cannot carry "
            "(a line break, a control character, or a non-ASCII character in a key): enter them again in the admin",
            repository_id=self.repository.pk,
        )

    def _blot(self, text: str) -> str:
        """``text`` with the repository's secret blotted out."""
        try:
            secret = self.repository.secret_value()
        except RepositoryError:
            return text
        if not secret:
            return text
        # As given, and as Python writes it back in a message (escaped, or as bytes).
        for form in {secret, repr(secret)[1:-1], repr(secret.encode("utf-8"))[2:-1]}:
            text = text.replace(form, "********")
        return text
