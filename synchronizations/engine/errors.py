"""The engine's error types. Connectors translate whatever their tracker does into
one of these; the engine decides from the type what happens to the sync."""

from django.db import InterfaceError, OperationalError

from synchronizations.engine import wording

#: Our own database failed: unreachable, restarted, the connection dropped, a
#: deadlock or a statement timeout (Django's OperationalError and InterfaceError).
#: Never an artifact's or a tracker's fault, so never recorded as a sync's error, a
#: repository's health or a failed operation: every catch-all of the engine lets it
#: through, the job stops, and its work comes back (process.process_batch,
#: operations.run, the reaper). The sandbox's artifacts live in this database too.
DATABASE_FAILED = (OperationalError, InterfaceError)


class SyncError(Exception):
    """Base of the engine's errors. ``detail`` carries a response body or similar;
    ``repository_id`` names the repository whose call failed, when the raiser knows
    it (the engine records the failure in that repository's health)."""

    repository_id: int | None = None

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message


class TransientError(SyncError):
    """Worth trying again later: connection refused, timeout, rate limit, HTTP 5xx.
    The sync goes back to pending with a backoff, up to the attempt limit.
    ``retry_after``: seconds the tracker asked us to wait (HTTP Retry-After), if it
    did; the next attempt is not before it."""

    def __init__(self, message: str, detail: str = "", retry_after: float | None = None):
        super().__init__(message, detail)
        self.retry_after = retry_after


class ConflictError(TransientError):
    """The artifact changed between our read and our write. Nothing was overwritten;
    processing again reads the new version."""


class RepositoryError(SyncError):
    """The repository refuses us as a whole: authentication failed or permission is
    denied (HTTP 401/403), or its credentials cannot be read. Not the sync's fault:
    the repository is marked unhealthy, its mappings pause, and its syncs wait,
    pending, until a periodic check succeeds (nothing lands in the error queue).
    ``repository_id``: the repository at fault, when the raiser knows it."""

    def __init__(self, message: str, detail: str = "", repository_id: int | None = None):
        super().__init__(message, detail)
        self.repository_id = repository_id


class PermanentError(SyncError):
    """Will fail again until someone changes something: validation, an unmappable
    value, HTTP 4xx. The sync goes to the error queue at once."""


class UnmappableValue(PermanentError):
    def __init__(self, *, field: str, target: str, value, mapping: str):
        super().__init__(
            f"Field '{field}' value {value!r} has no mapping to '{target}' in mapping '{mapping}'",
            "Add the value to the rule's value map (or give the rule a default) in the mapping, then Retry.",
        )
        self.field = field
        self.value = value


class ArtifactDeleted(PermanentError):
    """The artifact is gone from its tracker (HTTP 404 on it). Its sync goes to the
    error queue with an error kind of its own, "<key> was deleted in '<repository>'",
    where an operator recreates it from the other side or unlinks the pair."""

    def __init__(self, key: str, repository: str, detail: str = ""):
        super().__init__(
            wording.deleted(key, repository),
            detail or "Recreate it from the other side, or Unlink the pair (nothing is deleted on the other side).",
        )
        self.key = key
        self.repository = repository


class BothDeleted(ArtifactDeleted):
    """Both artifacts of a sync are gone: nothing is left to recreate from (Unlink
    or Clear Error keep the sync in history). ``key`` and ``repository`` name both,
    for the page ("L-3 and R-7")."""

    def __init__(self, left: ArtifactDeleted, right: ArtifactDeleted):
        PermanentError.__init__(
            self,
            wording.both_deleted(left.key, left.repository, right.key, right.repository),
            "Nothing is left to recreate from: Unlink (or Clear Error) keeps the sync in history.",
        )
        self.key = f"{left.key} and {right.key}"
        self.repository = (
            left.repository if left.repository == right.repository else (f"{left.repository}' and '{right.repository}")
        )


class FieldRefused(PermanentError):
    """The tracker refused a value (HTTP 400/422), naming the field when it said which."""

    def __init__(self, message: str, detail: str = "", field: str = ""):
        super().__init__(message, detail)
        self.field = field


class PartlyCreated(SyncError):
    """A create whose artifact exists but did not take every field: a connector
    raises it from create() (never returning the artifact as if all went well,
    nor raising an error that would lose it) when a step after the tracker's
    create failed, e.g. a status no workflow transition reaches, or a rate limit on
    the follow-up write that closes the new issue.

    ``artifact``: the Artifact as the tracker shows it now (its key above all);
    ``error``: the SyncError of the step that failed, which decides what happens to
    the sync (TransientError: tried again after a backoff; PermanentError: the
    error queue); ``fields``: the names, on the created side, of the fields it did
    not take. The engine links the artifact at once (it is never created again) and
    records both sides as agreeing on every other field, so that the next
    processing writes those fields again, as an update."""

    def __init__(self, artifact, error: SyncError, fields: list[str]):
        super().__init__(error.message, error.detail)
        self.artifact = artifact
        self.error = error
        self.fields = list(fields)
        self.repository_id = error.repository_id
        self.changes: dict = {}  # set by the engine: what to save of the sync before failing it
