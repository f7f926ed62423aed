from django.apps import AppConfig
from django.db.models.signals import post_migrate

from accounts.roles import ensure_roles_after_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self):
        # Late: importing the models at module level breaks the app-registry cycle (apps load before models).
        from accounts import preferences  # noqa: F401  (connects its user_logged_in receiver)

        post_migrate.connect(ensure_roles_after_migrate, dispatch_uid="accounts.ensure_roles")
