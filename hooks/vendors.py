"""What each tracker sends with a webhook, and how it is checked: the signature or
token, the delivery id, the event and whether it concerns issues. Plain functions
of headers and bytes: no database, no network.

- **GitHub** signs the body with HMAC-SHA256 keyed with the webhook's secret and
  sends ``X-Hub-Signature-256: sha256=<hex>``; the event is ``X-GitHub-Event``, the
  delivery ``X-GitHub-Delivery`` (a redelivery keeps it). (docs.github.com,
  "Validating webhook deliveries", whose example tests/test_hooks.py checks.)
- **GitLab** sends the secret token itself in ``X-Gitlab-Token``, compared here in
  constant time; the event is ``X-Gitlab-Event`` ("Issue Hook"), the delivery
  ``Idempotency-Key`` (the same across retries), else ``X-Gitlab-Event-UUID``.
- **Jira** (Cloud's admin webhooks, and Data Center) signs the body like GitHub
  when the webhook has a secret, in ``X-Hub-Signature: sha256=<hex>`` (Atlassian's
  "Managing webhooks" for Jira Data Center: HMAC, HMACSha256 by default, the header
  X-Hub-Signature; Jira Cloud's "Secure admin webhooks" uses the same WebSub form).
  The event is the body's ``webhookEvent`` ("jira:issue_updated"), the delivery
  ``X-Atlassian-Webhook-Identifier`` (the same across Jira's retries).

A delivery without an id of the vendor's (an older Jira, a proxy that drops headers)
is known by the SHA-256 of its body, so a byte-identical redelivery is still
recognised.
"""

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

# Delivery ids and event names kept as they come when they are this short and
# printable ASCII; anything else is replaced by a digest (ids) or cut (events).
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,200}")
EVENT_MAX = 100


class Refused(Exception):
    """The delivery cannot be verified: ``status`` 401 (no signature or token) or
    403 (one that does not match), and why, in words for the sender's delivery log."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _raw(value: str) -> bytes:
    """A header value as the bytes that were sent: WSGI hands headers over decoded
    as ISO-8859-1; a value that is not (only possible in tests) as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass")


def hmac_sha256_matches(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is ``sha256=`` and the hex HMAC-SHA256 of ``body`` keyed
    with ``secret`` (UTF-8), compared in constant time; hex in either case."""
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode("ascii"), _raw(header.strip()).lower())


def delivery_id(value: str | None, body: bytes) -> str:
    """What a delivery is known by (at most 200 characters): the vendor's id when it
    is 1 to 200 printable ASCII characters, else "sha256:" and the digest of the id
    (an odd one), or of ``body`` when there is none."""
    value = (value or "").strip()
    if _PRINTABLE.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(_raw(value) if value else body).hexdigest()


def event_name(value) -> str:
    """An event name fit to store and show: a string's printable ASCII, at most
    EVENT_MAX characters; "" for anything else."""
    if not isinstance(value, str):
        return ""
    return "".join(char for char in value if " " <= char <= "~")[:EVENT_MAX]


@dataclass(frozen=True)
class Vendor:
    """How one kind of tracker sends webhooks (the subclasses below)."""

    kind: str
    name: str
    # The header carrying the signature or token; the headers naming the delivery,
    # the first present wins.
    signature_header: str
    delivery_headers: tuple[str, ...]

    def verify(self, secret: str, body: bytes, headers: Mapping[str, str]) -> None:
        """Returns when the delivery is the tracker's; raises Refused otherwise."""
        raise NotImplementedError

    def event(self, headers: Mapping[str, str], payload: dict) -> str:
        """The event's name as the vendor spells it ("" when it names none)."""
        raise NotImplementedError

    def concerns_issues(self, event: str, payload: dict) -> bool:
        """Whether the event may mean an issue changed (else it is ignored)."""
        raise NotImplementedError

    def delivery(self, headers: Mapping[str, str], body: bytes) -> str:
        """The delivery's id (see delivery_id())."""
        for name in self.delivery_headers:
            if (headers.get(name) or "").strip():
                return delivery_id(headers[name], body)
        return delivery_id(None, body)

    def _signature(self, headers: Mapping[str, str]) -> str:
        value = (headers.get(self.signature_header) or "").strip()
        if not value:
            raise Refused(
                401,
                f"No {self.signature_header} header: set the webhook's secret in {self.name} to the one syncweb "
                "holds for this repository.",
            )
        return value

    def _verify_hmac(self, secret: str, body: bytes, headers: Mapping[str, str]) -> None:
        signature = self._signature(headers)
        if not signature.lower().startswith("sha256="):
            raise Refused(403, f"{self.signature_header} is not an HMAC-SHA256 signature (sha256=<hex>).")
        if not hmac_sha256_matches(secret, body, signature):
            raise Refused(
                403,
                f"{self.signature_header} does not match the body: the secret in {self.name} differs from the one "
                "syncweb holds for this repository (or the body was changed on the way).",
            )


class GitHub(Vendor):
    def verify(self, secret, body, headers):
        self._verify_hmac(secret, body, headers)

    def event(self, headers, payload):
        return event_name(headers.get("X-GitHub-Event"))

    def concerns_issues(self, event, payload):
        # A comment on a pull request comes as issue_comment too, its issue marked as
        # a pull request: not an issue that syncweb syncs.
        if event == "issue_comment":
            issue = payload.get("issue")
            return not (isinstance(issue, dict) and issue.get("pull_request"))
        return event == "issues"


class GitLab(Vendor):
    def verify(self, secret, body, headers):
        token = self._signature(headers)
        if not hmac.compare_digest(secret.encode("utf-8"), _raw(token)):
            raise Refused(
                403, "X-Gitlab-Token is not the secret token syncweb holds for this repository: set the same in GitLab."
            )

    def event(self, headers, payload):
        return event_name(headers.get("X-Gitlab-Event"))

    def concerns_issues(self, event, payload):
        if event in ("Issue Hook", "Confidential Issue Hook", "Work Item Hook"):
            return True
        if event in ("Note Hook", "Confidential Note Hook"):
            attributes = payload.get("object_attributes")
            return isinstance(attributes, dict) and attributes.get("noteable_type") in ("Issue", "WorkItem")
        return False


class Jira(Vendor):
    def verify(self, secret, body, headers):
        self._verify_hmac(secret, body, headers)

    def event(self, headers, payload):
        return event_name(payload.get("webhookEvent"))

    def concerns_issues(self, event, payload):
        return event.startswith(("jira:issue_", "comment_"))


VENDORS: dict[str, Vendor] = {
    vendor.kind: vendor
    for vendor in (
        GitHub("github", "GitHub", "X-Hub-Signature-256", ("X-GitHub-Delivery",)),
        GitLab("gitlab", "GitLab", "X-Gitlab-Token", ("Idempotency-Key", "X-Gitlab-Event-UUID")),
        Jira("jira", "Jira", "X-Hub-Signature", ("X-Atlassian-Webhook-Identifier",)),
    )
}
