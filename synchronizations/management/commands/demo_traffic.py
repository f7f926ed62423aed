import signal
import time

from django.core.management.base import BaseCommand

from synchronizations.demo import DemoTraffic
from syncweb.inputs import float_option, int_option


class Command(BaseCommand):
    help = (
        "Plays the users of the demo trackers: every few seconds creates or edits a sandbox "
        "artifact, now and then with an unmappable value or a short outage of a repository, "
        "so that the console shows syncs flowing, errors appearing and retries recovering."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--interval", type=float_option(0, 3600), default=3.0, help="Seconds between actions (default 3)."
        )
        parser.add_argument(
            "--count", type=int_option(0, 10_000_000), default=0, help="Stop after this many actions (default: never)."
        )
        parser.add_argument("--seed", type=int_option(0, 2**63 - 1), default=None, help="Seed of the random source.")

    def handle(self, *args, interval: float, count: int, seed: int | None, **options):
        traffic = DemoTraffic(seed)
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        done = 0
        try:
            while not stopping and (count == 0 or done < count):
                step = traffic.step()
                if options["verbosity"] >= 1:  # `make run` passes 0: a line every few seconds buries the login
                    self.stdout.write(step)
                    self.stdout.flush()
                done += 1
                if count == 0 or done < count:
                    time.sleep(interval)
        except KeyboardInterrupt:
            pass
        finally:
            traffic.stop()
        self.stdout.write(self.style.SUCCESS(f"Demo traffic stopped after {done} actions; outages ended."))
