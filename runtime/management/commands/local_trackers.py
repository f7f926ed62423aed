"""manage.py local_trackers: starts the local trackers and connects the console to them."""

import signal

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from synchronizations.demo.local_trackers import connect
from trackers.__main__ import render
from trackers.base import TrackerStartError
from trackers.local import DEFAULT_WORKDIR, REDMINE_PORT, ROUNDUP_PORT, LocalTrackers


class Command(BaseCommand):
    help = (
        "Starts a local Roundup and, where Debian's redmine package is installed, a local Redmine "
        f"(ports {ROUNDUP_PORT} and {REDMINE_PORT}, files under var/trackers/), creates their repositories and "
        "a mapping between them in the console (a sandbox repository takes Redmine's place where it is "
        "missing), and keeps them running until stopped. `make run-trackers` runs it beside the console."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-redmine", action="store_true", help="Roundup only (with a sandbox on the left).")

    def handle(self, *args, no_redmine: bool, **options):
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        trackers = LocalTrackers(DEFAULT_WORKDIR, ROUNDUP_PORT, REDMINE_PORT, with_redmine=not no_redmine)
        try:
            trackers.start()
        except TrackerStartError as exc:
            raise CommandError(str(exc)) from None
        try:
            description = trackers.describe()
            try:
                mapping = connect(description)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
            self.stdout.write(render(description))
            self.stdout.write(
                self.style.SUCCESS(
                    f"Mapping '{mapping.name}' connects them; issues created in either tracker appear in the Syncs tab."
                )
            )
            trackers.wait()
            raise CommandError("a tracker stopped on its own; see var/trackers/")
        except KeyboardInterrupt:
            self.stdout.write("Stopping the local trackers ...")
        finally:
            trackers.stop()
