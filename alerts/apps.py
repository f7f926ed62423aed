from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Channels, rules, the evaluator and the alert history. In a beat process, a
    watchdog thread evaluates the rules when no worker does (alerts.watchdog)."""

    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        # Connects the beat signal. A late import: the watchdog imports the models,
        # which cannot load before the app registry is ready (an import cycle with it).
        from alerts import watchdog  # noqa: F401
        from alerts.models import Channel
        from synchronizations import credentials

        credentials.register(Channel, "url", lambda row: f"the URL of alert channel '{row.name}'")
