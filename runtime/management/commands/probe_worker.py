import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from kombu.exceptions import OperationalError

from runtime.tasks import probe, probe_answer
from syncweb.inputs import float_option


class Command(BaseCommand):
    help = (
        "Sends a probe job through Redis and waits for a Celery worker to record it in the database "
        "(a WorkerProbe row; the operators' log is left alone). Exits non-zero when no worker answers."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--timeout", type=float_option(0.1, 3600), default=10.0, help="Seconds to wait for an answer (default 10)."
        )

    def handle(self, *args, timeout: float, **options):
        token = uuid.uuid4().hex
        started = time.monotonic()
        try:
            probe.apply_async((token,), retry=False)
        except OperationalError as exc:
            raise CommandError(f"Cannot queue the probe: the broker is unreachable ({exc}).") from None
        deadline = started + timeout
        while time.monotonic() < deadline:
            answer = probe_answer(token)
            if answer is not None:
                elapsed = time.monotonic() - started
                self.stdout.write(self.style.SUCCESS(f"{answer} in {elapsed:.2f} s."))
                return
            time.sleep(0.1)
        raise CommandError(f"No worker answered probe {token} within {timeout:g} s.")
