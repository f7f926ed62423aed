"""Stateful fakes of trackers that cannot run here (Jira, GitHub, GitLab): each a
real HTTP server on a free loopback port, in-process, built from the vendor's
documentation (request and answer shapes, pagination, rate-limit headers, error
bodies). The connectors talk to them over the wire exactly as to the service.

A fake subclasses FakeTracker and declares its routes with ``@route``; a test may
queue faults (``fail_next``) and reads what was sent (``seen``)."""

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the fake received it. ``query``: each parameter's values;
    ``json``: the decoded body (None when empty or not JSON)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # the route's named groups

    @property
    def json(self):
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class Response:
    status: int = 200
    body: object = None  # JSON-encoded unless bytes or str; None: no body
    headers: dict[str, str] = field(default_factory=dict)


def route(method: str, pattern: str) -> Callable:
    """Declares a handler of a FakeTracker for ``method`` on paths matching
    ``pattern`` (a regular expression matched against the whole path, its named
    groups given as ``request.params``). The handler returns a Response."""

    def mark(handler):
        handler.route = (method, re.compile(pattern))
        return handler

    return mark


class FakeTracker:
    """A fake tracker's HTTP server. ``url``: where it listens. ``seen``: every
    request received, in order. A path no route matches answers 404 with
    ``not_found_body()``; an exception in a handler answers 500."""

    def __init__(self):
        self.seen: list[Request] = []
        self.faults: list[Response] = []
        self.lock = threading.RLock()
        self.routes = [
            (*getattr(self, name).route, getattr(self, name))
            for name in dir(type(self))
            if hasattr(getattr(type(self), name), "route")
        ]
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm
            # and the client's delayed ACK hold the body ~40 ms on every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={name.lower(): value for name, value in self.headers.items()},
                    body=self.rfile.read(length),
                )
                response = fake.dispatch(request)
                body = response.body
                if body is None:
                    data = b""
                elif isinstance(body, bytes):
                    data = body
                elif isinstance(body, str):
                    data = body.encode()
                else:
                    data = json.dumps(body).encode()
                self.send_response(response.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # Polled more often than serve_forever's default, so that stop() takes no half second.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> "FakeTracker":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def fail_next(self, *responses: Response) -> None:
        """The next requests (one per response) are answered with ``responses``
        instead of by the routes: a rate limit, an outage."""
        with self.lock:
            self.faults.extend(responses)

    def not_found_body(self, request: Request) -> object:
        return {"message": "Not Found"}

    def dispatch(self, request: Request) -> Response:
        with self.lock:
            self.seen.append(request)
            if self.faults:
                return self.faults.pop(0)
            for method, pattern, handler in self.routes:
                match = pattern.fullmatch(request.path)
                if match and method == request.method:
                    request.params = match.groupdict()
                    try:
                        return handler(request)
                    except Exception as exc:  # a bug in the fake: say it like a server
                        return Response(500, {"message": f"fake failed: {exc!r}"})
            return Response(404, self.not_found_body(request))
