from django.apps import AppConfig


class HooksConfig(AppConfig):
    """Webhooks: GitHub, GitLab and Jira tell syncweb of a change at
    /sync/hooks/<repository id>/, which starts change detection of that repository's
    mappings at once instead of at their next poll (hooks/receive.py)."""

    name = "hooks"
    verbose_name = "Webhooks"
