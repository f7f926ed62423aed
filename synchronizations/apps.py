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
