from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_roles(sender, using, apps=None, **kwargs):
    from accounts.roles import ensure_roles

    # Once per migrate/flush is enough: run when the last of our apps is done.
    if sender.label == "metrics":
        ensure_roles(using=using)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        post_migrate.connect(_ensure_roles, dispatch_uid="accounts.ensure_roles")
