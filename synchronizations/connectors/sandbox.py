"""The sandbox connector: a tracker kept in syncweb's own database.

Repository.settings of a sandbox repository:

    {"key_prefix": "DEMO",            # keys are DEMO-1, DEMO-2, …
     "offline": false,                # true: every call raises a TransientError
     "refuse_credentials": false,     # true: every call raises a RepositoryError (as a 401)
     "latency_ms": 0,                 # each call takes this long (a slow remote)
     "fields": ["title", "priority"], # its fields (default: free-form, any name);
                                      # others are refused, and are not read
     "required": ["title"],           # create/update without these is refused
     "allowed": {"priority": ["High", "Low"]}}   # values outside the list are refused

Its artifacts are SandboxArtifact rows, editable in the admin; an artifact's URL
is its admin page. A mapping's scope on a sandbox repository is a project, that is
a key prefix: scope "WEB" covers WEB-1, WEB-2, … and new artifacts are created as
WEB-n. An empty scope covers the whole repository and creates with key_prefix. Key
numbers come from SandboxKeyNumber and only go up: a deleted artifact's key is never
given to a new one (a sync still linked to it must not find an unrelated artifact).
"""

import functools
import time

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Substr
from django.urls import reverse
from django.utils import timezone

from synchronizations.connectors.base import Artifact, Changes, Connector
from synchronizations.engine.errors import (
    ArtifactDeleted,
    ConflictError,
    FieldRefused,
    RepositoryError,
    SyncError,
    TransientError,
)
from synchronizations.models import SandboxArtifact, SandboxKeyNumber, SandboxSequence


class SandboxConnector(Connector):
    kind = "sandbox"

    def __init__(self, repository):
        super().__init__(repository)
        self.settings = repository.settings or {}

    # --- the interface ---------------------------------------------------------------

    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        self._call()
        rows = self._in_scope(scope).filter(change_seq__gt=int(cursor or 0)).order_by("change_seq")
        rows = list(rows[:limit])
        artifacts = [self._artifact(row) for row in rows]
        return Changes(artifacts, str(rows[-1].change_seq) if rows else cursor)

    def get(self, key: str) -> Artifact:
        self._call()
        row = self._artifacts().filter(key=key).first()
        if row is None:
            raise ArtifactDeleted(key, self.repository.name)
        return self._artifact(row)

    def create(self, scope: str, fields: dict) -> Artifact:
        self._call()
        self._check_schema(fields)
        self._validate(fields)
        prefix = scope or self.settings.get("key_prefix") or "SB"
        with transaction.atomic():
            for _ in range(5):
                # Numbers only go up, even past deleted artifacts: a key is never given twice.
                number = SandboxKeyNumber.take(self.repository.pk, prefix)
                try:
                    with transaction.atomic():
                        row = SandboxArtifact(repository=self.repository, key=f"{prefix}-{number}", fields=fields)
                        row.save()
                    return self._artifact(row)
                except IntegrityError:
                    continue  # the key exists (written without taking its number): take the next one
        raise TransientError(f"Could not allocate a new key in '{self.repository.name}'")

    def update(self, key: str, fields: dict, version: str) -> Artifact:
        self._call()
        row = self._artifacts().filter(key=key).first()
        if row is None:
            raise ArtifactDeleted(key, self.repository.name)
        self._check_schema(fields)
        merged = {**row.fields, **fields}
        self._validate(merged)
        with transaction.atomic():
            updated = self._artifacts().filter(pk=row.pk, version=int(version))
            changed = updated.update(
                fields=merged,
                version=F("version") + 1,
                updated_at=timezone.now(),
                change_seq=SandboxSequence.take(self.repository.pk),
            )
            if not changed:  # rolls the sequence number back too
                raise ConflictError(f"{key} changed in '{self.repository.name}' while it was being updated")
        row.refresh_from_db()
        return self._artifact(row)

    def get_many(self, keys: list[str]) -> dict:
        """One query for all ``keys`` (the engine reads a job's syncs together)."""
        self._call()
        rows = {row.key: row for row in self._artifacts().filter(key__in=keys)}
        return {
            key: self._artifact(rows[key]) if key in rows else ArtifactDeleted(key, self.repository.name)
            for key in keys
        }

    def create_many(self, scope: str, fields: list[dict]) -> list:
        """The artifacts numbered and inserted together: one statement for the key
        numbers, one for the change feed, one INSERT. Each artifact costs the
        repository's latency_ms, as one create() would."""
        results: list = [None] * len(fields)
        valid = []
        for index, values in enumerate(fields):
            self._call()
            try:
                self._check_schema(values)
                self._validate(values)
                valid.append(index)
            except SyncError as exc:
                results[index] = exc
        if not valid:
            return results
        prefix = scope or self.settings.get("key_prefix") or "SB"
        try:
            with transaction.atomic():
                last = SandboxKeyNumber.take(self.repository.pk, prefix, count=len(valid))
                feed = SandboxSequence.take(self.repository.pk, count=len(valid))
                first, first_seq = last - len(valid) + 1, feed - len(valid) + 1
                rows = [
                    SandboxArtifact(
                        repository=self.repository,
                        key=f"{prefix}-{first + offset}",
                        fields=fields[index],
                        change_seq=first_seq + offset,
                    )
                    for offset, index in enumerate(valid)
                ]
                SandboxArtifact.objects.bulk_create(rows)
        except IntegrityError:  # a key written without taking its number: one by one, stepping over it
            return [
                results[index] if index not in valid else _or_error(self.create, scope, fields[index])
                for index in range(len(fields))
            ]
        for index, row in zip(valid, rows, strict=True):
            results[index] = self._artifact(row)
        return results

    def update_many(self, changes: list[tuple[str, dict, str]]) -> list:
        """The artifacts read in one query and written in one transaction (one
        UPDATE each, checking its version); latency_ms per artifact."""
        results: list = [None] * len(changes)
        rows = {row.key: row for row in self._artifacts().filter(key__in=[key for key, _, _ in changes])}
        valid = []
        for index, (key, values, version) in enumerate(changes):
            self._call()
            row = rows.get(key)
            try:
                if row is None:
                    raise ArtifactDeleted(key, self.repository.name)
                self._check_schema(values)
                merged = {**row.fields, **values}
                self._validate(merged)
                valid.append((index, row, merged, int(version)))
            except SyncError as exc:
                results[index] = exc
        if not valid:
            return results
        now = timezone.now()
        with transaction.atomic():
            feed = SandboxSequence.take(self.repository.pk, count=len(valid)) - len(valid) + 1
            for offset, (index, row, merged, version) in enumerate(valid):
                written = self._artifacts().filter(pk=row.pk, version=version)
                if not written.update(fields=merged, version=version + 1, updated_at=now, change_seq=feed + offset):
                    results[index] = ConflictError(
                        f"{row.key} changed in '{self.repository.name}' while it was being updated"
                    )
                    continue
                row.fields, row.version, row.updated_at, row.change_seq = merged, version + 1, now, feed + offset
                results[index] = self._artifact(row)
        return results

    def url(self, key: str) -> str:
        row = self._artifacts().filter(key=key).only("pk").first()
        if row is None:
            return ""
        return artifact_url(self.repository, row.pk)

    def ping(self) -> None:
        self._call()

    @staticmethod
    def scopes_overlap(a: str, b: str) -> bool:
        """A scope is a key prefix: "WEB" covers WEB-1, … and also WEB-X-1 (the keys
        of scope "WEB-X"); "" covers all."""
        return a == b or not a or not b or a.startswith(f"{b}-") or b.startswith(f"{a}-")

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """Sandbox scopes and fields are free-form: any key prefix, any field name."""
        self._call()
        return []

    # --- helpers ---------------------------------------------------------------------

    def _artifacts(self):
        return SandboxArtifact.objects.filter(repository=self.repository)

    def _call(self) -> None:
        latency = self.settings.get("latency_ms") or 0
        if latency:
            time.sleep(latency / 1000)
        if self.settings.get("offline"):
            error = TransientError(f"Connection to '{self.repository.name}' refused: the repository is offline")
            error.repository_id = self.repository.pk
            raise error
        if self.settings.get("refuse_credentials"):
            raise RepositoryError(
                f"'{self.repository.name}' refused our credentials (sandbox setting refuse_credentials)",
                repository_id=self.repository.pk,
            )

    def _check_schema(self, fields: dict) -> None:
        schema = self.settings.get("fields")
        if isinstance(schema, list):
            for name in fields:
                if name not in schema:
                    raise FieldRefused(f"'{self.repository.name}' has no field '{name}'", field=name)

    def _validate(self, fields: dict) -> None:
        for name in self.settings.get("required", []):
            if fields.get(name) in (None, "", []):
                raise FieldRefused(
                    f"'{self.repository.name}' refused the change: field '{name}' is required", field=name
                )
        for name, allowed in self.settings.get("allowed", {}).items():
            value = fields.get(name)
            values = value if isinstance(value, list) else [value]
            for item in values:
                if item not in (None, "") and item not in allowed:
                    raise FieldRefused(
                        f"'{self.repository.name}' refused the change: field '{name}' does not accept {item!r}",
                        f"Allowed values of '{name}': {', '.join(map(str, allowed))}",
                        field=name,
                    )

    def _in_scope(self, scope: str):
        """The artifacts whose key starts with ``scope``-, case-sensitively on every
        database (SQLite's LIKE, behind Django's startswith, ignores case: "l14"
        would cover L14-1, which scopes_overlap() rightly does not think)."""
        if not scope:
            return self._artifacts()
        prefix = f"{scope}-"
        return self._artifacts().annotate(key_prefix=Substr("key", 1, len(prefix))).filter(key_prefix=prefix)

    def _artifact(self, row) -> Artifact:
        schema = self.settings.get("fields")
        if isinstance(schema, list):  # a tracker with a field list: a field not in it does not exist
            fields = {name: row.fields.get(name) for name in schema if isinstance(name, str)}
        else:
            fields = dict(row.fields)
        url = artifact_url(self.repository, row.pk)
        return Artifact(row.key, fields, str(row.version), url, row.updated_at, open_schema=schema is None)


def _or_error(call, *args):
    try:
        return call(*args)
    except SyncError as exc:
        return exc


def artifact_url(repository, pk: int) -> str:
    """A sandbox artifact's page: its admin page, under the repository's base URL if set."""
    return (repository.base_url or "").rstrip("/") + _change_path().replace("/0/", f"/{pk}/")


@functools.cache
def _change_path() -> str:
    """The admin change page of sandbox artifact 0 (reverse() once, not per artifact)."""
    return reverse("admin:synchronizations_sandboxartifact_change", args=[0])
