from django.core.management.base import BaseCommand

from synchronizations import demo
from syncweb.inputs import int_option


class Command(BaseCommand):
    help = (
        "Loads demo data: repositories, mappings, about 2,000 syncs in every status with their "
        "log entries, and 90 days of sync events. Does nothing if the demo data is there, "
        "unless --reset is given (which rebuilds it)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--syncs", type=int_option(1, 1_000_000), default=2000, help="How many syncs (default 2000)."
        )
        parser.add_argument("--days", type=int_option(1, 3650), default=90, help="Days of history (default 90).")
        parser.add_argument(
            "--seed", type=int_option(0, 2**63 - 1), default=1, help="Seed of the random source (default 1)."
        )
        parser.add_argument("--reset", action="store_true", help="Delete the demo data first and load it again.")

    def handle(self, *args, syncs: int, days: int, seed: int, reset: bool, **options):
        counts = demo.seed(syncs=syncs, days=days, seed=seed, reset=reset)
        if counts is None:
            self.stdout.write(self.style.NOTICE("Demo data is already loaded; nothing changed (--reset rebuilds it)."))
            return
        summary = ", ".join(f"{value} {name}" for name, value in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Loaded demo data: {summary}."))
