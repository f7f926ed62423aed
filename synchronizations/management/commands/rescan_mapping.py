from django.core.management.base import BaseCommand

from synchronizations import rescans
from synchronizations.management.commands._selection import find_mapping, find_user
from synchronizations.models import Mapping, Operation


class Command(BaseCommand):
    help = (
        "Requests a full rescan of a mapping: its next change detection (queued at once when it may run) reads both "
        "sides from the start, picking up what incremental detection missed. Logged on the mapping."
    )

    def add_arguments(self, parser):
        parser.add_argument("mapping", help="The mapping's id or exact name.")
        parser.add_argument("--user", help="Username recorded as having asked for it.")

    def handle(self, *args, **options):
        found = find_mapping(options["mapping"], "The mapping")
        user = find_user(options["user"])
        mapping = Mapping.objects.select_related("left", "right").get(pk=found.pk)
        done = rescans.request(mapping, user=user, source=Operation.Source.COMMAND)
        if done.queued:
            self.stdout.write(self.style.SUCCESS(f"Full rescan of '{mapping.name}' requested; detection queued."))
        else:
            self.stdout.write(
                self.style.NOTICE(
                    f"Full rescan of '{mapping.name}' requested; it runs at the mapping's next change detection, "
                    f"which waits: {done.waits}."
                )
            )
