"""The Celery app. Workers and beat start with `celery -A syncweb worker|beat`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "syncweb.settings")

# DjangoTask gives every task delay_on_commit(): the message is sent only once the
# transaction that made its rows commits, so a worker never looks for a row that
# is not there yet.
app = Celery("syncweb", task_cls="celery.contrib.django.task:DjangoTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Connects the heartbeat signal handlers before the worker builds its heart.
import runtime.workers  # noqa: E402, F401
