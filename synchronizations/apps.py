from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from synchronizations.derived import schema


def _install_derived(sender, using="default", **kwargs):
    """post_migrate: creates whatever of derived/schema.py is missing on ``using``."""
    schema.install(connections[using])


class SynchronizationsConfig(AppConfig):
    """The domain app; after every migrate it puts back the derived data's triggers.
    It also hands the models the connectors' scope rules (scopes_overlap)."""

    name = "synchronizations"
    verbose_name = "Synchronizations"

    def ready(self):
        # Triggers are not in Django's migration state: a later migration that
        # rebuilds the sync table on SQLite drops them, and this puts them back.
        post_migrate.connect(_install_derived, sender=self, dispatch_uid="synchronizations.install_derived")
        # Here: the models cannot load before the app registry is ready (an import cycle with it).
        from synchronizations import credentials
        from synchronizations.models import Repository

        credentials.register(Repository, "secret", lambda row: f"the credential of repository '{row.name}'")

    def scopes_overlap(self, kind: str, a: str, b: str) -> bool:
        """Whether scopes ``a`` and ``b`` of one repository of ``kind`` may cover a
        common artifact: the connector's rule (Connector.scopes_overlap), the
        default rule for a kind without a connector. No network."""
        # Not at the top: the connectors import the models (an import cycle through
        # models.py, which asks this), and the app registry loads this module first.
        from synchronizations.connectors import REGISTRY, Connector

        return REGISTRY.get(kind, Connector).scopes_overlap(a, b)

    def scope_problem(self, kind: str, scope: str) -> str:
        """What is wrong with ``scope``'s text on a repository of ``kind`` (the
        connector's Connector.scope_problem; "" for a kind without a connector)."""
        # Not at the top: an import cycle through models.py, as in scopes_overlap().
        from synchronizations.connectors import REGISTRY, Connector

        return REGISTRY.get(kind, Connector).scope_problem(scope)

    def settings_problem(self, repository) -> str:
        """What is wrong with ``repository``'s settings (a Repository, saved or
        not) as its connector reads them when it is made ("" when nothing is, or
        for a kind without a connector). No network."""
        # Not at the top: an import cycle through models.py, as in scopes_overlap().
        from synchronizations.connectors import REGISTRY
        from synchronizations.engine.errors import SyncError

        connector_class = REGISTRY.get(repository.kind)
        if connector_class is None:
            return ""
        try:
            connector_class(repository)
        except SyncError as exc:
            return exc.message
        return ""
