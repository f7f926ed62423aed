"""The HTTP connector foundation against a real local HTTP server: every failure
maps to the engine's errors once, Retry-After is read, pages are read to the end,
and the secret never reaches an error."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from synchronizations.connectors.http import HttpConnector, retry_after_seconds
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    PermanentError,
    RepositoryError,
    TransientError,
)
from synchronizations.models import Repository
from tests import scripted_http
from tests.scripted_http import Answer, closed_port

scripted_server = scripted_http.scripted_server  # the fixture

pytestmark = pytest.mark.django_db
SECRET = "s3cr3t-token-value"


class Probe(HttpConnector):
    """The smallest HTTP connector: a token header, and "field" in 422 answers."""

    kind = "probe"

    def headers(self):
        return {"X-Token": self.repository.secret_value()}

    def refused_field(self, response):
        body = response.json()
        return body.get("field", ""), body.get("message", "")

    def changed_since(self, scope, cursor, limit=500):
        raise NotImplementedError

    def get(self, key):
        return self.request("GET", f"/items/{key}", key=key).json()

    def create(self, scope, fields):
        raise NotImplementedError

    def update(self, key, fields, version):
        raise NotImplementedError

    def url(self, key):
        return f"{self.base_url}/items/{key}"

    def ping(self):
        self.request("GET", "/me")


def connector(url: str) -> Probe:
    repository = Repository(name="Probe", kind="sandbox", base_url=url)
    repository.set_secret(SECRET)
    repository.save()
    return Probe(repository)


def test_a_success_returns_the_answer_and_sends_the_credentials(scripted_server):
    scripted_server.script(Answer(200, {"id": 7}))
    assert connector(scripted_server.url).get("7") == {"id": 7}
    assert scripted_server.seen[0].headers["X-Token"] == SECRET


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (Answer(500, "boom"), TransientError, "'Probe' failed (HTTP 500)"),
        (Answer(503, "", {"Retry-After": "30"}), TransientError, "HTTP 503"),
        (Answer(429, "", {"Retry-After": "12"}), TransientError, "'Probe' is rate limiting us (HTTP 429)"),
        (Answer(401, {"error": "bad key"}), RepositoryError, "'Probe' refused our credentials (HTTP 401)"),
        (Answer(403, {}), RepositoryError, "'Probe' denied us permission (HTTP 403)"),
        (Answer(404, {}), ArtifactDeleted, "7 was deleted in 'Probe'"),
        (Answer(409, {}), ConflictError, "7 changed in 'Probe' while it was being updated (HTTP 409)"),
        (Answer(412, {}), ConflictError, "(HTTP 412)"),
        (Answer(422, {"field": "priority", "message": "is not included in the list"}), FieldRefused,
         "'Probe' refused the value of field 'priority': is not included in the list"),
        (Answer(400, {"message": "nope"}), FieldRefused, "'Probe' refused the change (HTTP 400): nope"),
        (Answer(410, {}), PermanentError, "'Probe' answered HTTP 410 to GET /items/7"),
    ],
)  # fmt: skip
def test_each_failure_maps_to_one_engine_error(scripted_server, answer, error, message):
    scripted_server.script(answer)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")) as raised:
        connector(scripted_server.url).get("7")
    assert type(raised.value) is error


def test_retry_after_is_carried_in_seconds(scripted_server):
    scripted_server.script(Answer(429, "", {"Retry-After": "12"}))
    with pytest.raises(TransientError) as raised:
        connector(scripted_server.url).get("7")
    assert raised.value.retry_after == 12.0


def test_retry_after_as_an_http_date():
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after_seconds("not a date", now) is None
    assert retry_after_seconds("²", now) is None
    assert retry_after_seconds("99999999999", now) == 86_400.0


def test_a_401_error_names_the_repository_at_fault(scripted_server):
    scripted_server.script(Answer(401, {}))
    probe = connector(scripted_server.url)
    with pytest.raises(RepositoryError) as raised:
        probe.ping()
    assert raised.value.repository_id == probe.repository.pk


def test_connection_refused_is_transient():
    with pytest.raises(TransientError, match="Cannot reach 'Probe'"):
        connector(f"http://127.0.0.1:{closed_port()}").get("7")


def test_a_tracker_that_does_not_answer_in_time_is_transient(scripted_server, settings):
    settings.SYNCWEB_HTTP_TIMEOUT = 0.3
    scripted_server.script(Answer(200, {}, delay=1.5))
    with pytest.raises(TransientError, match="did not answer in time"):
        connector(scripted_server.url).get("7")


def test_the_secret_is_blotted_out_of_error_details(scripted_server):
    scripted_server.script(Answer(400, {"message": f"token {SECRET} is not allowed here"}))
    with pytest.raises(FieldRefused) as raised:
        connector(scripted_server.url).get("7")
    assert SECRET not in raised.value.message
    assert SECRET not in raised.value.detail
    assert "********" in raised.value.detail


def test_paginate_reads_every_page_to_the_end(scripted_server):
    scripted_server.script(
        Answer(200, {"items": [1, 2], "total": 5}),
        Answer(200, {"items": [3, 4], "total": 5}),
        Answer(200, {"items": [5], "total": 5}),
    )

    def next_params(response, params, count):
        offset = params["offset"] + count
        return {**params, "offset": offset} if count and offset < response.json()["total"] else None

    items = list(
        connector(scripted_server.url).paginate(
            "/items", {"offset": 0, "limit": 2}, items=lambda r: r.json()["items"], next_params=next_params
        )
    )
    assert items == [1, 2, 3, 4, 5]
    assert [seen.path for seen in scripted_server.seen] == [
        "/items?offset=0&limit=2", "/items?offset=2&limit=2", "/items?offset=4&limit=2"
    ]  # fmt: skip


def test_a_changed_secret_gives_a_new_client(scripted_server):
    scripted_server.script(Answer(200, {}))
    probe = connector(scripted_server.url)
    probe.get("1")
    probe.repository.set_secret("rotated")
    probe.repository.save()
    probe.get("1")
    assert [seen.headers["X-Token"] for seen in scripted_server.seen] == [SECRET, "rotated"]


@pytest.mark.parametrize("secret", ["abc\nX-Evil: 1", "clé-ünïcode-☃"])
def test_a_secret_http_cannot_carry_is_a_repository_error_that_never_shows_it(scripted_server, secret):
    scripted_server.script(Answer(200, {}))
    repository = Repository(name="Odd", kind="sandbox", base_url=scripted_server.url)
    repository.set_secret(secret)
    repository.save()
    with pytest.raises(RepositoryError, match="a character an HTTP request cannot carry") as raised:
        Probe(repository).get("1")
    assert secret not in raised.value.message and repr(secret)[1:-1] not in raised.value.message
    assert scripted_server.seen == []
