import sys

from django.core.management.base import BaseCommand, CommandError

from runtime.broker import queue_and_workers as broker_state
from synchronizations import operations
from synchronizations.management.commands._selection import find_mapping, find_user
from synchronizations.models import Operation


class Command(BaseCommand):
    help = (
        "Process all artifacts of a mapping: every sync of it but those being processed or ignored (ignored syncs "
        "stay ignored) goes back to pending and is processed again, without counting as a retry. Records an "
        "Operation."
    )

    def add_arguments(self, parser):
        parser.add_argument("mapping", help="The mapping's id or exact name.")
        parser.add_argument("--dry-run", action="store_true", help="Say how many syncs it concerns, change nothing.")
        parser.add_argument("--yes", action="store_true", help="Do not ask first.")
        parser.add_argument("--user", help="Username recorded as having asked for it.")

    def handle(self, *args, **options):
        mapping = find_mapping(options["mapping"], "The mapping")
        user = find_user(options["user"])
        selection = operations.select_for_reprocess([mapping.pk])
        count = len(selection.ids)
        if count == 0:
            self.stdout.write(
                self.style.NOTICE(
                    f"'{mapping.name}' has no sync to process (every one is being processed or ignored); nothing to do."
                )
            )
            return
        if options["dry_run"]:
            self.stdout.write(f"Would process {count} sync(s) of '{mapping.name}' again. Nothing changed (dry run).")
            return
        if not options["yes"]:
            # A whole mapping's syncs, which the operator has not seen one by one: always ask.
            if not sys.stdin.isatty():
                raise CommandError(f"{count} syncs of '{mapping.name}' would be processed again; pass --yes to do it.")
            answer = input(f"Process all {count} syncs of '{mapping.name}' again? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                self.stdout.write(self.style.NOTICE("Nothing was changed."))
                return
        try:
            operation = operations.submit(
                Operation.Action.REPROCESS, selection, user=user, source=Operation.Source.COMMAND, run_now=True
            )
        except operations.ActionRefused as refusal:
            raise CommandError(str(refusal)) from None
        skipped = f"; {operation.skipped} skipped" if operation.skipped else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Process all artifacts of '{mapping.name}': {operation.done} of {count} sync(s) pending again"
                f"{skipped} (operation #{operation.pk})."
            )
        )
        if broker_state()["error"]:
            self.stdout.write(
                self.style.NOTICE(
                    "The job queue (Redis) does not answer: the syncs wait, pending and due, and are processed as "
                    "soon as it is back."
                )
            )
