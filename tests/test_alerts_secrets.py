"""A channel's secrets, wherever its URL could show: Apprise's own redacted form
keeps a JSON webhook's headers (``?+X-Api-Key=…``), query tokens (``?-apikey=…``,
``?token=…``) and a token in the path as they are, so nothing of a URL but its
scheme and host (and port) may be shown, stored in clear or logged."""

import importlib
import io
import logging
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection
from django.utils import timezone

from alerts import delivery
from alerts.models import Channel, Delivery, redacted_url

pytestmark = pytest.mark.django_db

SECRETS = (
    "headersecret7", "querysecret6", "pathsecret5", "mailsecret8", "T1JJ3T3L2", "A1BRTD4JD",
    "TIiajkdnlazkcOXrIdevi7FQ",
)  # fmt: skip


class Echo:
    """A webhook that refuses everything, echoing the request's path and headers in
    its answer (the worst a channel could answer)."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                echo = f"refused {self.path} {dict(self.headers)}".encode()
                self.send_response(500)
                self.send_header("Content-Length", str(len(echo)))
                self.end_headers()
                self.wfile.write(echo)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def echo():
    made = Echo()
    yield made
    made.server.shutdown()
    made.server.server_close()


def urls(echo_port: int, smtp_port: int) -> dict[str, str]:
    return {
        "Header": f"json://127.0.0.1:{echo_port}/h?+X-Api-Key=headersecret7",
        "Query": f"json://127.0.0.1:{echo_port}/h?-apikey=querysecret6&token=querysecret6",
        "Path": f"json://127.0.0.1:{echo_port}/hooks/pathsecret5",
        "Slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general",
        # STARTTLS to a server without TLS: fails.
        "Mail": f"mailtos://alice:mailsecret8@127.0.0.1:{smtp_port}?from=syncweb@example.com&to=ops@example.com",
    }


def test_only_scheme_and_host_are_shown_whatever_the_scheme():
    assert redacted_url("json://127.0.0.1:8926/h?+X-Api-Key=headersecret7") == "json://127.0.0.1:8926/…"
    assert redacted_url("json://127.0.0.1:8926/hooks/pathsecret5") == "json://127.0.0.1:8926/…"
    assert redacted_url("json://[::1]:8080/x?token=querysecret6") == "json://[::1]:8080/…"
    assert redacted_url("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general") == "slack://T...2/…"
    assert redacted_url("mailtos://alice:pw@smtp.example.com:587?to=ops@example.com") == "mailtos://smtp.example.com/…"


def test_no_secret_of_a_channel_url_is_shown_stored_in_clear_or_logged(
    client_as, admin_user, echo, smtp_server, caplog, settings, monkeypatch
):
    settings.SYNCWEB_ALERT_DELIVERY_ATTEMPTS = 1
    # Slack is reached through the echo server as a proxy (which refuses): nothing leaves the machine.
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{echo.port}")
    caplog.set_level(logging.DEBUG)
    client = client_as(admin_user)
    pages = []
    for name, url in urls(echo.port, smtp_server.port).items():
        response = client.post("/sync/admin/alerts/channel/add/", {"name": name, "url": url, "enabled": "on"})
        assert response.status_code == 302, response.content.decode()[:3000]
    channels = list(Channel.objects.order_by("pk"))
    # Send test, from the list (the action) and from each change page (the button).
    pages.append(
        client.post(
            "/sync/admin/alerts/channel/",
            {"action": "send_test", "_selected_action": [c.pk for c in channels]},
            follow=True,
        )
    )
    for channel in channels:
        pages.append(client.post(f"/sync/admin/alerts/channel/{channel.pk}/send-test/", follow=True))
        # A notification that fails its last attempt: an error on the Logs tab.
        now = timezone.now()
        Delivery.objects.create(
            channel=channel, kind="firing", title="t", body="b", created_at=now, next_attempt_at=now
        )
    assert delivery.send_due(timezone.now()) == {"failed": 5}
    for channel in channels:
        pages.append(client.get(f"/sync/admin/alerts/channel/{channel.pk}/change/"))
        pages.append(client.get(f"/sync/admin/alerts/channel/{channel.pk}/history/"))
        pages.append(client.get(f"/sync/admin/alerts/channel/{channel.pk}/delete/"))
    for failed in Delivery.objects.all():
        pages.append(client.get(f"/sync/admin/alerts/delivery/{failed.pk}/change/"))
    for page in (
        "/sync/admin/alerts/channel/", "/sync/admin/alerts/delivery/", "/sync/alerts/", "/sync/logs/",
        "/sync/logs/?level=error",
    ):  # fmt: skip
        pages.append(client.get(page))
    assert all(page.status_code == 200 for page in pages), [p.status_code for p in pages]
    rendered = "\n".join(page.content.decode() for page in pages)
    assert "json://127.0.0.1:" in rendered and "/…" in rendered
    assert "Test to &#x27;Header&#x27; failed:" in rendered
    bundle = zipfile.ZipFile(io.BytesIO(client.get("/sync/support-bundle.zip").content))
    rendered += "\n".join(bundle.read(name).decode() for name in bundle.namelist())
    stored = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (the database's own table names)
            columns = [column[0] for column in cursor.description]
            for row in cursor.fetchall():
                stored += [
                    f"{table}.{column}={value}"
                    for column, value in zip(columns, row, strict=True)
                    if not (table == "alerts_channel" and column == "url")
                ]
    stored_text = "\n".join(stored)
    assert "alerts_delivery.last_error=" in stored_text
    for secret in SECRETS:
        assert secret not in rendered, secret
        assert secret not in stored_text, secret
        assert secret not in caplog.text, secret


def test_the_migration_cuts_the_addresses_stored_before_to_scheme_and_host():
    migration = importlib.import_module("alerts.migrations.0004_channel_address_secrets_hidden")
    before = {
        "json://127.0.0.1:8926/h?method=POST&overflow=upstream&%2BX-Api-Key=headersecret7": "json://127.0.0.1:8926/…",
        "json://127.0.0.1:8926/hooks/pathsecret5?method=POST": "json://127.0.0.1:8926/…",
        "slack://T...2/A...D/T...Q/%23general/?image=yes": "slack://T...2/…",
        "mailtos://alice:****@smtp.example.com/ops%40example.com?mode=starttls": "mailtos://smtp.example.com/…",
        "mailtos://u:****@/b%40example.com?mode=starttls": "mailtos://…/…",
    }
    assert {old: migration.scheme_and_host(old) for old in before} == before


def test_a_url_whose_host_apprise_reads_as_empty_is_refused_saying_so(client_as, admin_user):
    response = client_as(admin_user).post(
        "/sync/admin/alerts/channel/add/",
        {"name": "Mail", "url": "mailtos://u:pwsecret9@127.0.0.1:8925:587?from=a@example.com&to=b@example.com",
         "enabled": "on"},
    )  # fmt: skip
    assert response.status_code == 200
    content = response.content.decode()
    assert "Apprise finds no host in this URL (scheme &#x27;mailtos&#x27;)" in content
    assert "pwsecret9" not in content and not Channel.objects.exists()


def test_the_shown_address_is_labelled_as_such(client_as, admin_user):
    channel = Channel(name="Hook")
    channel.set_url("json://127.0.0.1:8926/hooks/pathsecret5")
    channel.save()
    content = client_as(admin_user).get(f"/sync/admin/alerts/channel/{channel.pk}/change/").content.decode()
    assert "Address (secrets hidden)" in content and "Url redacted" not in content
    listing = client_as(admin_user).get("/sync/admin/alerts/channel/").content.decode()
    assert "Address (secrets hidden)" in listing
