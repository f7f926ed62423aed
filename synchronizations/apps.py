from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _install_derived(sender, using="default", **kwargs):
    from synchronizations import derived

    derived.install(connections[using])


class SynchronizationsConfig(AppConfig):
    name = "synchronizations"
    verbose_name = "Synchronizations"

    def ready(self):
        # Triggers are not in Django's migration state: a later migration that
        # rebuilds the sync table on SQLite drops them, and this puts them back.
        post_migrate.connect(_install_derived, sender=self, dispatch_uid="synchronizations.install_derived")
