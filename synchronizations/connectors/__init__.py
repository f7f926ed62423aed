"""Connectors, one per Repository.kind, behind one interface (base.Connector)."""

import json
import threading
import time

from synchronizations.connectors.base import Artifact, Changes, Connector
from synchronizations.connectors.github import GitHubConnector
from synchronizations.connectors.gitlab import GitLabConnector
from synchronizations.connectors.jira import JiraConnector
from synchronizations.connectors.redmine import RedmineConnector
from synchronizations.connectors.roundup import RoundupConnector
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.engine.errors import PermanentError

REGISTRY: dict[str, type[Connector]] = {
    SandboxConnector.kind: SandboxConnector,
    RedmineConnector.kind: RedmineConnector,
    RoundupConnector.kind: RoundupConnector,
    GitHubConnector.kind: GitHubConnector,
    GitLabConnector.kind: GitLabConnector,
    JiraConnector.kind: JiraConnector,
}


# Connectors kept per process: an HTTP connector caches what it resolved (names to
# ids), which every sync of a job would otherwise fetch again. A connector is reused
# while its repository is configured as it was, for at most REUSE_SECONDS (so that a
# long-running worker sees a status added in the tracker); a miss refetches anyway.
REUSE_SECONDS = 300.0
_KEPT_AT_MOST = 256
_kept: dict[tuple, tuple[float, Connector]] = {}
_kept_lock = threading.Lock()


def connector_for(repository) -> Connector:
    """The connector of ``repository`` (a Repository), reused from this process when
    the repository is configured as when it was made. Raises PermanentError for a
    kind that has no connector."""
    try:
        connector_class = REGISTRY[repository.kind]
    except KeyError:
        raise PermanentError(
            f"Repository '{repository.name}' is of kind '{repository.kind}', which has no connector yet."
        ) from None
    key = (
        repository.pk,
        repository.kind,
        repository.name,
        repository.base_url,
        repository.username,
        repository.secret,
        json.dumps(repository.settings, sort_keys=True, default=str),
    )
    now = time.monotonic()
    with _kept_lock:
        kept = _kept.get(key)
        if kept is not None and now - kept[0] < REUSE_SECONDS:
            return kept[1]
        connector = connector_class(repository)
        if len(_kept) >= _KEPT_AT_MOST:
            _kept.clear()
        _kept[key] = (now, connector)
        return connector


__all__ = ["REGISTRY", "Artifact", "Changes", "Connector", "connector_for"]
