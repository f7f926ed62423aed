"""The address of the client behind a login attempt, for failed-login throttling.

Directly exposed (the default), it is REMOTE_ADDR. Behind a reverse proxy
(SYNCWEB_BEHIND_PROXY=1), REMOTE_ADDR is the proxy's, the same for every client,
so one client's failures would lock a user out for everyone. Then, and only when
the request comes from a trusted proxy (SYNCWEB_TRUSTED_PROXIES: addresses or
networks), the client is the right-most address of X-Forwarded-For that is not
itself a trusted proxy: each proxy appends the address it saw, so the entries a
client wrote itself stand to the left and are never believed (the "right-most
untrusted" rule of RFC 7239 §7.4's discussion, as nginx's real_ip_recursive does).
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address | None:
    """An address as a proxy writes it into X-Forwarded-For: ``203.0.113.5``,
    ``203.0.113.5:4711``, ``2001:db8::1`` or ``[2001:db8::1]:443`` (the port dropped)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: Address) -> bool:
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.SYNCWEB_TRUSTED_PROXIES)


def client_address(request: HttpRequest) -> str:
    """The client's address as text (REMOTE_ADDR when nothing better can be trusted)."""
    remote = request.META.get("REMOTE_ADDR", "")
    peer = _address(remote)
    if not settings.SYNCWEB_BEHIND_PROXY or peer is None or not _trusted(peer):
        return remote
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(entry)
        if address is None:
            return remote  # a malformed chain: believe only the connection
        if not _trusted(address):
            return str(address)
    return remote
