"""Repository credentials at rest: encrypted with Fernet (AES-128-CBC + HMAC-SHA256,
from the ``cryptography`` package), never stored in plain text.

The keys come from the environment, never from the database:

- ``SYNCWEB_CREDENTIAL_KEYS``: comma-separated Fernet keys (make one with
  ``manage.py rotate_credentials --new-key``); the first encrypts, all decrypt.
- unset: keys derived (HKDF-SHA256) from ``SECRET_KEY`` and each of
  ``SECRET_KEY_FALLBACKS``, so the embedded default needs no setup and Django's own
  key rotation carries the credentials along.

Rotating: put the new key first (or the new SECRET_KEY in place and the old one in
SECRET_KEY_FALLBACKS), run ``manage.py rotate_credentials`` (every secret is
re-encrypted with the first key), then drop the old key.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# Stored values start with this, so that a value can be told from plain text.
PREFIX = "fernet:"


class CredentialError(Exception):
    """A stored credential cannot be decrypted with the keys configured now."""


def _derived(secret_key: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"syncweb", info=b"repository credentials").derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(key)


def keys() -> list[bytes]:
    """The Fernet keys in force, the encrypting one first."""
    configured = [key.strip() for key in settings.SYNCWEB_CREDENTIAL_KEYS if key.strip()]
    if configured:
        return [key.encode() for key in configured]
    return [_derived(settings.SECRET_KEY), *(_derived(key) for key in settings.SECRET_KEY_FALLBACKS)]


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys()])


def encrypt(plain: str) -> str:
    """``plain`` encrypted with the first key, as stored ("" stays "")."""
    if not plain:
        return ""
    return PREFIX + _fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    """The plain text of a stored credential ("" stays ""). Raises CredentialError
    when no key in force decrypts it, or when it was stored in plain text."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise CredentialError("the credential is stored in plain text; save it again or run rotate_credentials")
    try:
        return _fernet().decrypt(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise CredentialError(
            "the credential cannot be decrypted with the keys in force (SYNCWEB_CREDENTIAL_KEYS or SECRET_KEY "
            "changed?); enter it again"
        ) from None


def rotate(stored: str) -> str:
    """``stored`` re-encrypted with the first key; a plain-text value is encrypted.
    Raises CredentialError when no key in force decrypts it."""
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        return encrypt(stored)
    try:
        return PREFIX + _fernet().rotate(stored.removeprefix(PREFIX).encode()).decode()
    except InvalidToken:
        raise CredentialError("the credential cannot be decrypted with the keys in force") from None


def new_key() -> str:
    """A fresh Fernet key, for SYNCWEB_CREDENTIAL_KEYS."""
    return Fernet.generate_key().decode()


@dataclass(frozen=True)
class EncryptedField:
    """A model field stored encrypted by this module: ``field`` of ``model``, each
    row named for an operator by ``describe(row)`` (e.g. "repository 'Web shop'")."""

    model: type
    field: str
    describe: Callable[[Any], str]


# Every encrypted field of every app, registered from its AppConfig.ready();
# rotate_credentials re-encrypts them all.
ENCRYPTED: list[EncryptedField] = []


def register(model: type, field: str, describe: Callable[[Any], str]) -> None:
    """Registers ``field`` of ``model`` as encrypted by this module, for rotate_credentials
    (idempotent: a second registration of the same field is ignored)."""
    if not any(entry.model is model and entry.field == field for entry in ENCRYPTED):
        ENCRYPTED.append(EncryptedField(model, field, describe))
