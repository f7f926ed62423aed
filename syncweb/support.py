"""The support bundle: one zip an administrator downloads to hand to whoever helps
them (Tasktop Sync's troubleshooting has the same "error report" on its Logs page).

What is in it (each file JSON, but README.txt):
- versions.json: syncweb, Python, the platform, every pinned package, the database.
- settings.json: every setting, with each secret removed.
- health.json: the health check's answer (database, Redis, workers).
- repositories.json, mappings.json: without credentials (no username, no secret).
- error_kinds.json: the kinds of error of the syncs in error, with their counts.
- recent_errors.json: the RECENT_ERRORS latest syncs in error, with their detail.
- log_entries.json: the RECENT_LOG_ENTRIES latest log entries.

How secrets are kept out, twice over: values whose name says secret (secret_name():
a name ending in PASSWORD, TOKEN, SECRET, CREDENTIAL, API_KEY, SECRET_KEY, ... or
with the word SECRET or CREDENTIAL in it; PASSWORD_HASHERS or key_prefix are not)
and user:password in any URL of any value are replaced by REMOVED; then every file
is searched for every secret value syncweb knows (the secret keys, the database
password, the credential keys, each repository's credential and each alert
channel's Apprise URL, encrypted and in plain text) and each is replaced by REMOVED,
so a secret that an error message or a tracker's answer echoed does not leak
either. The alert channels themselves are not in the bundle.

Times are ISO 8601 (DjangoJSONEncoder), in UTC as stored."""

import contextlib
import io
import json
import platform
import re
import sys
import zipfile
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import metadata
from pathlib import Path, PurePath
from urllib.parse import unquote, urlsplit
from uuid import UUID

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from alerts.models import Channel, url_secrets
from runtime.health import health
from synchronizations.models import LogEntry, Mapping, Repository, SyncCount, Synchronization, SyncStatus

REMOVED = "[removed]"
RECENT_ERRORS = 200
RECENT_LOG_ENTRIES = 1000
# Detail (tracebacks, response bodies) longer than this is cut.
DETAIL_CHARS = 4000
# A name is secret when its last words are one of these (SECRET_KEY, DB_PASSWORD,
# api_token, SYNCWEB_CREDENTIAL_KEYS), or when it has one of _SECRET_WORDS anywhere
# (SECRET_KEY_FALLBACKS). Words, not letters: PASSWORD_HASHERS, AUTH_PASSWORD_VALIDATORS,
# PASSWORD_RESET_TIMEOUT, AXES_PASSWORD_FORM_FIELD or key_prefix are kept.
_SECRET_ENDINGS = (
    ("SECRET",), ("SECRETS",), ("PASSWORD",), ("PASSWORDS",), ("PASSWD",), ("PWD",), ("PASSPHRASE",), ("TOKEN",),
    ("TOKENS",), ("CREDENTIAL",), ("CREDENTIALS",), ("API", "KEY"), ("API", "KEYS"), ("APIKEY",), ("SECRET", "KEY"),
    ("PRIVATE", "KEY"), ("ACCESS", "KEY"), ("SIGNING", "KEY"), ("ENCRYPTION", "KEY"), ("CREDENTIAL", "KEYS"),
    ("API", "AUTH"), ("BASIC", "AUTH"),
)  # fmt: skip
_SECRET_WORDS = {"SECRET", "SECRETS", "CREDENTIAL", "CREDENTIALS"}
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^@/\s]*)@", re.I)
_ENCODER = DjangoJSONEncoder()
ROOT = Path(__file__).resolve().parent.parent


def _words(name: str) -> tuple[str, ...]:
    """The words of a setting or field name, upper case: "apiToken" and "API_TOKEN"
    are ("API", "TOKEN")."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return tuple(word.upper() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word)


def secret_name(name) -> bool:
    """Whether a value named ``name`` is a secret (see _SECRET_ENDINGS)."""
    words = _words(str(name))
    return any(words[-len(ending) :] == ending for ending in _SECRET_ENDINGS) or not _SECRET_WORDS.isdisjoint(words)


def _scrub_value(value):
    """``value`` as JSON-able data, with every dictionary item whose key names a
    secret removed and user:password taken out of every URL in its text
    (recursively); times as ISO 8601."""
    if isinstance(value, dict):
        return {key: REMOVED if secret_name(key) and value[key] else _scrub_value(v) for key, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(item) for item in value]
    if isinstance(value, str):
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{REMOVED}@", str(value))
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime | date | time | timedelta | Decimal | UUID):
        return _ENCODER.default(value)
    if isinstance(value, PurePath):
        return str(value)
    return _scrub_value(repr(value))


def settings_without_secrets() -> dict:
    """Every upper-case setting, as JSON-able values, secrets removed."""
    names = [name for name in dir(settings) if name.isupper()]
    return _scrub_value({name: getattr(settings, name) for name in names})


def known_secrets() -> list[str]:
    """Every secret value syncweb knows of, longest first (so that a secret that
    contains another is removed whole)."""
    found = {settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS, *settings.SYNCWEB_CREDENTIAL_KEYS}
    for database in settings.DATABASES.values():
        found.add(database.get("PASSWORD") or "")
    for name in dir(settings):
        value = getattr(settings, name, None)
        value = str(value) if isinstance(value, str) else value
        if name.isupper() and secret_name(name) and isinstance(value, str):
            found.add(value)
        if name.isupper() and isinstance(value, str):
            found.update(match.split(":", 1)[-1] for match in re.findall(r"://([^@/\s]+)@", value))
    for repository in Repository.objects.all():
        found.add(repository.secret)
        # A credential that cannot be decrypted cannot be in the bundle in plain text either.
        with contextlib.suppress(Exception):
            found.add(repository.secret_value())
    for channel in Channel.objects.all():
        found.add(channel.url)
        with contextlib.suppress(Exception):
            found.update(_url_secrets(channel.url_value()))
    return sorted((secret for secret in found if secret and len(secret) >= 4), key=len, reverse=True)


def _url_secrets(url: str) -> set[str]:
    """An Apprise URL and the parts of it that may be secret: its password, and
    every other part its redacted form hides (alerts.models.url_secrets: user, token
    in place of the host, path segments, query values, fragment) long enough to be a
    token or a key (Slack's and Teams' tokens are path parts, a webhook's key a query
    value or a header)."""
    parts = urlsplit(url)
    found = {url, unquote(parts.password or ""), parts.password or ""}
    found.update(part for part in url_secrets(url) if len(part) >= 8)
    return found


def _versions() -> dict:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name = re.split(r"[=<>\[ ;#]", line.strip(), maxsplit=1)[0]
        if name and not line.startswith(("#", "-")):
            try:
                pins[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                pins[name] = None
    with connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_version()" if connection.vendor == "sqlite" else "SHOW server_version")
        database_version = cursor.fetchone()[0]
    project = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    return {
        "syncweb": project[1] if project else None,
        "python": sys.version,
        "platform": platform.platform(),
        "packages": pins,
        "database": {"vendor": connection.vendor, "version": database_version},
        "environment": settings.SYNCWEB_ENVIRONMENT,
    }


def _repositories() -> list[dict]:
    fields = [f.name for f in Repository._meta.concrete_fields if f.name not in ("secret", "username")]
    return [_scrub_value(row) for row in Repository.objects.values(*fields)]


def _mappings() -> list[dict]:
    counts = SyncCount.objects.by_mapping()
    rows = []
    for row in Mapping.objects.values(*[f.attname for f in Mapping._meta.concrete_fields]):
        rows.append({**_scrub_value(row), "syncs_by_status": counts.get(row["id"], {})})
    return rows


def _error_kinds() -> dict:
    errors = Synchronization.objects.filter(status=SyncStatus.ERROR)
    kinds: dict[str, int] = {}
    for context in errors.exclude(error_context={}).values_list("error_context", flat=True).iterator():
        kind = context.get("kind", "") if isinstance(context, dict) else ""
        kinds[kind or "other"] = kinds.get(kind or "other", 0) + 1
    return {"by_kind": kinds, "by_pattern": errors.top_error_patterns(limit=100)}


def _recent_errors() -> list[dict]:
    rows = (
        Synchronization.objects.filter(status=SyncStatus.ERROR)
        .order_by("-error_at")
        .values(
            "id", "mapping__name", "left_key", "right_key", "title", "error_message", "error_detail", "error_at",
            "error_context", "attempts", "retry_count", "last_processed_at",
        )[:RECENT_ERRORS]
    )  # fmt: skip
    return [_scrub_value({**row, "error_detail": row["error_detail"][:DETAIL_CHARS]}) for row in rows]


def _log_entries() -> list[dict]:
    rows = LogEntry.objects.newest_first().values(
        "id", "timestamp", "level", "message", "detail", "actor", "sync_id", "mapping__name", "operation_id"
    )[:RECENT_LOG_ENTRIES]
    return [_scrub_value({**row, "detail": row["detail"][:DETAIL_CHARS]}) for row in rows]


README = """syncweb support bundle, made {made} by {user}.

versions.json        syncweb, Python, platform, packages, database
settings.json        every setting; secrets are replaced by {removed}
health.json          database, Redis and workers, as /sync/health/ reports them
repositories.json    the repositories, without username or credential
mappings.json        the mappings and their syncs per status
error_kinds.json     the syncs in error by kind and by error pattern, with counts
recent_errors.json   the {errors} latest syncs in error (detail cut at {chars} characters)
log_entries.json     the {entries} latest log entries

Every value syncweb knows to be secret was searched for in every file and replaced by {removed}.
The alert channels (their Apprise URLs carry passwords and tokens) are not in the bundle.
Times are ISO 8601 with their offset (as stored, UTC).
"""


def build(user: str, now: datetime | None = None) -> bytes:
    """The bundle as zip bytes; ``user`` is who asked (written in README.txt)."""
    now = now or datetime.now(UTC)
    files = {
        "README.txt": README.format(
            made=now.isoformat(),
            user=user,
            removed=REMOVED,
            errors=RECENT_ERRORS,
            entries=RECENT_LOG_ENTRIES,
            chars=DETAIL_CHARS,
        ),
        "versions.json": _versions(),
        "settings.json": settings_without_secrets(),
        "health.json": health(),
        "repositories.json": _repositories(),
        "mappings.json": _mappings(),
        "error_kinds.json": _error_kinds(),
        "recent_errors.json": _recent_errors(),
        "log_entries.json": _log_entries(),
    }
    secrets = known_secrets()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            text = content if isinstance(content, str) else json.dumps(content, indent=2, cls=DjangoJSONEncoder)
            for secret in secrets:
                text = text.replace(secret, REMOVED)
                # A secret as JSON escapes it (quotes, backslashes, non-ASCII).
                text = text.replace(json.dumps(secret)[1:-1], REMOVED)
            archive.writestr(f"syncweb-support/{name}", text)
    return buffer.getvalue()
