"""Personal API tokens: a name, an optional expiry, revocable, their last use
recorded. The token itself is shown once, when it is made; only its SHA-256 is
kept, beside a short visible prefix that finds the row (GitHub's and PyPI's
tokens are made the same way)."""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Every token reads "swt_<prefix>_<secret>": "swt" says what it is (secret
# scanners and people recognise it), the prefix finds its row, the secret is 256
# random bits.
SCHEME = "swt"
PREFIX_BYTES = 6  # 12 hex characters
SECRET_BYTES = 32
# The last use is written at most this often per token, so that a script calling
# in a loop costs no write per request.
LAST_USE_RESOLUTION = timedelta(seconds=60)


def digest(token: str) -> str:
    """The hex SHA-256 of the whole token text: what is stored. (A fast hash is
    right here: the secret is 256 random bits, not a password to guess.)"""
    return hashlib.sha256(token.encode()).hexdigest()


def split(token: str) -> str | None:
    """The prefix of ``token`` if it is shaped like one this module makes, else None."""
    scheme, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != SCHEME or len(prefix) != 2 * PREFIX_BYTES or not secret or len(token) > 200:
        return None
    if any(c not in "0123456789abcdef" for c in prefix):
        return None
    return prefix


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user, name: str, *, expires_at: datetime | None = None, created_by=None) -> tuple["ApiToken", str]:
        """A new token for ``user``: the row, and the token text (shown once, never
        stored). ``created_by`` is the admin who made it for someone else (None:
        the user did)."""
        prefix = secrets.token_hex(PREFIX_BYTES)
        plain = f"{SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
        token = self.create(
            user=user, name=name, prefix=prefix, digest=digest(plain), expires_at=expires_at, created_by=created_by
        )
        return token, plain

    def active(self, now: datetime) -> "ApiTokenQuerySet":
        """Tokens neither revoked nor expired at ``now``."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)

    def find(self, plain: str) -> "ApiToken | None":
        """The token whose text is ``plain`` (with its user), whatever its state, or
        None. One indexed query; the digest is compared in constant time."""
        prefix = split(plain)
        if prefix is None:
            return None
        token = self.select_related("user").filter(prefix=prefix).first()
        if token is None or not hmac.compare_digest(token.digest, digest(plain)):
            return None
        return token

    def revoke(self, now: datetime) -> int:
        """Revokes the tokens not revoked yet; returns how many."""
        return self.filter(revoked_at__isnull=True).update(revoked_at=now)


class ApiToken(models.Model):
    """A personal API token. Its user's role applies to every request it makes."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. 'nightly retry job'.")
    prefix = models.CharField(max_length=2 * PREFIX_BYTES, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The admin who made it for the user (empty: the user did).",
    )
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({SCHEME}_{self.prefix}_…)"

    @property
    def shown_prefix(self) -> str:
        """The visible start of the token, e.g. ``swt_3f9a0c1b2d4e_…``."""
        return f"{SCHEME}_{self.prefix}_…"

    def state(self, now: datetime) -> str:
        """ "active", "expired" or "revoked" at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def record_use(self, now: datetime) -> None:
        """Records a use at ``now``, writing at most once per LAST_USE_RESOLUTION."""
        if self.last_used_at is not None and now - self.last_used_at < LAST_USE_RESOLUTION:
            return
        ApiToken.objects.filter(pk=self.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USE_RESOLUTION)
        ).update(last_used_at=now)
        self.last_used_at = now
