from django.apps import AppConfig


class HooksConfig(AppConfig):
    """Webhooks: GitHub, GitLab and Jira tell syncweb of a change at
    /sync/hooks/<repository id>/, which starts change detection of that repository's
    mappings at once instead of at their next poll (hooks/receive.py)."""

    name = "hooks"
    verbose_name = "Webhooks"

    def ready(self):
        # Here: the models cannot load before the app registry is ready (an import cycle with it).
        from hooks.models import Webhook
        from synchronizations import credentials

        credentials.register(Webhook, "secret", lambda row: f"the webhook secret of repository {row.pk}")
