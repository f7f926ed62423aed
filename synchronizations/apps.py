from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from synchronizations.derived import schema


def _install_derived(sender, using="default", **kwargs):
    """post_migrate: creates whatever of derived/schema.py is missing on ``using``."""
    schema.install(connections[using])


class SynchronizationsConfig(AppConfig):
    """The domain app; after every migrate it puts back the derived data's triggers."""

    name = "synchronizations"
    verbose_name = "Synchronizations"

    def ready(self):
        # Triggers are not in Django's migration state: a later migration that
        # rebuilds the sync table on SQLite drops them, and this puts them back.
        post_migrate.connect(_install_derived, sender=self, dispatch_uid="synchronizations.install_derived")
