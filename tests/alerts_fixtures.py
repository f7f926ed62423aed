"""Real servers for the alerts' channels, started by the tests: an SMTP server
(aiosmtpd) and an HTTP server that takes JSON webhooks (or refuses them)."""

import json
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Mailbox:
    """What the SMTP server received: one email.message.EmailMessage per mail."""

    port: int
    messages: list = field(default_factory=list)

    def url(self, to: str = "ops@example.com") -> str:
        """An Apprise URL that sends to this server, no TLS, no login."""
        return f"mailto://127.0.0.1:{self.port}?from=syncweb@example.com&to={to}"

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd), for the duration of the test."""
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


class Webhook:
    """A local HTTP server that records each JSON body POSTed to it, answering
    ``status`` (200, or e.g. 500 to play a failing channel)."""

    def __init__(self):
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.paths.append(self.path)
                if hook.status == 200:
                    hook.received.append(json.loads(body or b"{}"))
                self.send_response(hook.status)
                self.end_headers()
                self.wfile.write(b"refused: secret-echo" if hook.status != 200 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    """A local JSON webhook server (see Webhook)."""
    hook = Webhook()
    try:
        yield hook
    finally:
        hook.stop()
