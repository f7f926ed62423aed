from django.apps import AppConfig


class SynchronizationsConfig(AppConfig):
    name = "synchronizations"
    verbose_name = "Synchronizations"
