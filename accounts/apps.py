from django.apps import AppConfig
from django.db.models.signals import post_migrate

from accounts.roles import ensure_roles_after_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        post_migrate.connect(ensure_roles_after_migrate, dispatch_uid="accounts.ensure_roles")
