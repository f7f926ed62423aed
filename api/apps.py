from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The JSON API (/sync/api/v1/), its OpenAPI schema and documentation page,
    personal API tokens, and the Prometheus endpoint (/sync/api/metrics)."""

    name = "api"
    verbose_name = "JSON API"
