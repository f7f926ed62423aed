"""The beat process's watchdog: a thread that runs an alert round itself when the
workers have not run one for three intervals (alerts.rounds.is_stale). Without it,
"no worker alive" could never be told: the task that would tell it needs a worker.

Started by the beat_init signal, so only in a `celery beat` process; the lease keeps
it from running beside a worker's round, and a second beat's watchdog beside it."""

import logging
import os
import socket
import threading

from celery.signals import beat_init
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from alerts import rounds

logger = logging.getLogger(__name__)


def check_once() -> rounds.Round | None:
    """One look: a round if none ran for three intervals; None otherwise (or when
    another round holds the lease)."""
    if not rounds.is_stale(timezone.now()):
        return None
    return rounds.run_round(holder=f"beat:{socket.gethostname()}:{os.getpid()}")


def _loop(stop: threading.Event) -> None:
    while not stop.wait(settings.SYNCWEB_ALERT_INTERVAL):
        close_old_connections()
        try:
            done = check_once()
            if done is not None:
                logger.info("alert round run by beat (no worker ran one): %s", done)
        except Exception:
            logger.exception(
                "the beat's alert watchdog failed; it tries again in %s s", settings.SYNCWEB_ALERT_INTERVAL
            )
        finally:
            connection.close()


@beat_init.connect
def _start(sender, **kwargs) -> None:
    threading.Thread(target=_loop, args=(threading.Event(),), name="alert-watchdog", daemon=True).start()
