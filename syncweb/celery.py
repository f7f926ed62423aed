"""The Celery app. Workers and beat start with `celery -A syncweb worker|beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncweb.settings")

# Work is queued by task name after commit by synchronizations.jobs; DjangoTask
# gives tasks delay_on_commit() too, for code that sends a task it imports.
app = Celery("syncweb", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the heartbeat signal handlers before the worker builds its heart.
import runtime.workers  # noqa: E402, F401
