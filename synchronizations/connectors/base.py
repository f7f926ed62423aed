"""The interface every connector implements, one per Repository.kind."""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from synchronizations.engine.errors import DATABASE_FAILED, PermanentError


@dataclass(frozen=True)
class Artifact:
    """One artifact as read. ``fields`` has every field the artifact has (an empty
    one as None or ""); a field missing from it does not exist there (renamed or
    deleted), unless ``open_schema``: a free-form tracker (the sandbox without a
    field list), where any field exists and one never set is empty."""

    key: str
    fields: dict
    version: str  # opaque: pass it back to update() to detect concurrent edits
    url: str
    updated_at: datetime
    open_schema: bool = False


@dataclass(frozen=True)
class Changes:
    artifacts: list[Artifact]  # changed since the cursor, oldest change first
    cursor: str  # where the next call continues; store it only once the changes are handled


class Connector(ABC):
    """Talks to one repository. Every method raises the engine's errors
    (synchronizations.engine.errors): TransientError for what may work later,
    PermanentError for what will not, ConflictError for a concurrent edit."""

    kind: ClassVar[str]

    def __init__(self, repository):
        self.repository = repository

    @abstractmethod
    def changed_since(self, scope: str, cursor: str, limit: int = 500) -> Changes:
        """Artifacts in ``scope`` changed since ``cursor`` ("" = from the start). A
        connector may return an artifact again (overlap is safe, missing one is not)."""

    @abstractmethod
    def get(self, key: str) -> Artifact:
        """One artifact; PermanentError if it does not exist."""

    @abstractmethod
    def create(self, scope: str, fields: dict) -> Artifact:
        """A new artifact in ``scope`` with ``fields``."""

    @abstractmethod
    def update(self, key: str, fields: dict, version: str) -> Artifact:
        """Write ``fields`` (others are kept) if the artifact is still at ``version``;
        ConflictError if it changed since it was read."""

    # --- several at once: the engine processes a job's syncs together ----------------

    def get_many(self, keys: list[str]) -> dict:
        """Each of ``keys`` read: {key: Artifact, or the SyncError reading it raised
        (ArtifactDeleted for one that is gone)}. The default calls get() per key;
        a connector whose tracker lists several artifacts in one call overrides it.
        An error of the call as a whole (unreachable, credentials refused) may be
        raised instead: the engine gives it to every key."""
        return _each(keys, self.get)

    def create_many(self, scope: str, fields: list[dict]) -> list:
        """create() of each of ``fields`` in ``scope``, in order: a list of the
        Artifact created or the SyncError that refused it. The default calls
        create() one by one. A whole-call error may be raised, as for get_many()."""
        return list(_each(range(len(fields)), lambda index: self.create(scope, fields[index])).values())

    def update_many(self, changes: list[tuple[str, dict, str]]) -> list:
        """update() of each (key, fields, version) of ``changes``, in order: a list of
        the Artifact written or the SyncError that refused it (ConflictError when it
        changed since it was read). The default calls update() one by one."""
        return list(_each(range(len(changes)), lambda index: self.update(*changes[index])).values())

    @abstractmethod
    def url(self, key: str) -> str:
        """Where a person sees the artifact."""

    @abstractmethod
    def ping(self) -> None:
        """One cheap call that needs our credentials. Returns when it succeeds;
        raises TransientError when the tracker cannot be reached and RepositoryError
        when it refuses the credentials or permission."""

    @staticmethod
    def scopes_overlap(a: str, b: str) -> bool:
        """Whether scopes ``a`` and ``b`` of one repository may cover a common
        artifact, from the scopes' text alone (no network; when the text cannot
        tell, say True). Mapping.clean() refuses sides that overlap. The default:
        the same scope, or an empty one (which covers the whole repository)."""
        return a == b or not a or not b

    # A connector whose scopes have a syntax (``owner/repo``, ``KEY: JQL``) sets this
    # to its parser: scope text -> anything, PermanentError saying what is wrong.
    parse_scope: ClassVar[Callable[[str], object] | None] = None

    @classmethod
    def scope_problem(cls, scope: str) -> str:
        """What is wrong with ``scope``'s text for this kind of tracker, in one
        sentence ("" when nothing is), without the network: Mapping.clean() refuses
        such a side when it is saved. What ``parse_scope`` raises; nothing for a
        connector without one."""
        if cls.parse_scope is None:
            return ""
        try:
            cls.parse_scope(scope)
        except PermanentError as exc:
            return exc.message
        return ""

    @staticmethod
    def same_version(seen: str, current: str) -> bool:
        """Whether an artifact listed at version ``current`` is unchanged since it
        was seen at version ``seen`` (as changed_since(), get(), create() or
        update() gave it). An empty ``seen`` (never seen) is never the same. A
        connector whose versions differ in form between calls overrides it."""
        return bool(seen) and seen == current

    def check(self, scope: str, fields: list[str]) -> list[str]:
        """What is wrong for a mapping side on ``scope`` that names ``fields``, one
        sentence each ([] when nothing is): the scope does not exist, a field does
        not exist there. Raises as ping() does. The default checks the connection
        only; connectors that can tell scopes and fields apart override it."""
        self.ping()
        return []


def _each(items, call) -> dict:
    """{item: call(item), or the SyncError it raised}. Other exceptions (bugs) are
    kept too, so that one artifact's bug does not take the others' results away."""
    results = {}
    for item in items:
        try:
            results[item] = call(item)
        except DATABASE_FAILED:
            raise  # our own database, not this item's fault
        except Exception as exc:  # given back per item; the engine decides
            results[item] = exc
    return results
