"""Connectors, one per Repository.kind, behind one interface (base.Connector)."""

from synchronizations.connectors.base import Artifact, Changes, Connector
from synchronizations.connectors.redmine import RedmineConnector
from synchronizations.connectors.roundup import RoundupConnector
from synchronizations.connectors.sandbox import SandboxConnector
from synchronizations.engine.errors import PermanentError

REGISTRY: dict[str, type[Connector]] = {
    SandboxConnector.kind: SandboxConnector,
    RedmineConnector.kind: RedmineConnector,
    RoundupConnector.kind: RoundupConnector,
}


def connector_for(repository) -> Connector:
    try:
        connector_class = REGISTRY[repository.kind]
    except KeyError:
        raise PermanentError(
            f"Repository '{repository.name}' is of kind '{repository.kind}', which has no connector yet."
        ) from None
    return connector_class(repository)


__all__ = ["REGISTRY", "Artifact", "Changes", "Connector", "connector_for"]
