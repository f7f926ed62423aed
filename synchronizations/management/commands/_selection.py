"""What clear_errors and retry_syncs share: choosing syncs by filters, the dry
run, the confirmation, and running the action through operations.py."""

import re
import sys
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q, QuerySet
from django.utils import timezone

from runtime.broker import queue_and_workers as broker_state
from synchronizations import operations
from synchronizations.models import Mapping, Operation, Synchronization
from syncweb.inputs import parse_id, parse_int

DURATION = re.compile(r"(.+)([dhm])")
UNITS = {"d": "days", "h": "hours", "m": "minutes"}
# The longest duration --older-than accepts, in each unit: 100 years.
LONGEST = {"d": 36_500, "h": 36_500 * 24, "m": 36_500 * 24 * 60}


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m`` as a timedelta (up to 100 years); CommandError otherwise."""
    match = DURATION.fullmatch(text.strip())
    amount = parse_int(match[1], minimum=0, maximum=LONGEST[match[2]]) if match else None
    if amount is None:
        raise CommandError(f"--older-than {text!r} is not a duration like 7d, 12h or 30m (at most 100 years).")
    return timedelta(**{UNITS[match[2]]: amount})


def refuse_nul(text: str | None, option: str) -> None:
    """CommandError when ``text`` holds a NUL character: no name or text stored here
    has one (Django's forms refuse it), and PostgreSQL refuses it in a query."""
    if text is not None and "\x00" in text:
        raise CommandError(f"{option} {text!r} holds a NUL character, which no stored text has. Nothing was changed.")


def find_mapping(text: str, option: str = "--mapping") -> Mapping:
    """The mapping whose id or exact name is ``text``; CommandError, naming
    ``option``, when it is empty, holds a NUL, or there is none."""
    if not text.strip():
        raise CommandError(f"{option} is empty: give a mapping's id or exact name. Nothing was changed.")
    if "\x00" in text:
        raise CommandError(f"No mapping with the id or name {text!r} (no name holds a NUL character).")
    mapping = Mapping.objects.filter(Q(name=text) | Q(pk=parse_id(text))).first()
    if mapping is None:
        raise CommandError(f"No mapping with the id or name {text!r}.")
    return mapping


def find_user(username: str | None):
    """The user named ``username`` (None: nobody named); CommandError if there is none."""
    if not username:
        return None
    refuse_nul(username, "--user")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user {username!r}.")
    return user


class SelectionCommand(BaseCommand):
    verb = ""  # "Retry", "Clear errors of"

    def add_arguments(self, parser):
        parser.add_argument("--mapping", help="Only syncs of this mapping (its id or exact name).")
        parser.add_argument(
            "--older-than", help="Only syncs whose error (or, if none, last processing) is older than 7d, 12h, 30m…"
        )
        parser.add_argument("--message-contains", help="Only syncs whose error message contains this text.")
        parser.add_argument("--ids", help="Only these sync ids (comma-separated).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would change, change nothing.")
        parser.add_argument(
            "--yes", action="store_true", help=f"Do not ask before changing more than {operations.CONFIRM_ABOVE} syncs."
        )
        parser.add_argument("--user", help="Username recorded as having asked for it.")

    def base_queryset(self, options) -> QuerySet:
        return Synchronization.objects.all()

    def action(self, options) -> str:
        raise NotImplementedError

    def selection(self, options) -> tuple[QuerySet, dict]:
        queryset = self.base_queryset(options)
        filters = {"command": self.__module__.rsplit(".", 1)[-1]}
        for option in ("mapping", "older_than", "message_contains", "ids"):
            # An empty value (a script's unset variable) would otherwise mean "every sync".
            flag = "--" + option.replace("_", "-")
            if options[option] is not None and not options[option].strip():
                raise CommandError(f"{flag} is empty: give a value, or leave the option out. Nothing was changed.")
            refuse_nul(options[option], flag)
        if options["mapping"]:
            mapping = find_mapping(options["mapping"])
            queryset = queryset.filter(mapping=mapping)
            filters["mapping"] = mapping.pk
        if options["older_than"]:
            cutoff = timezone.now() - parse_duration(options["older_than"])
            queryset = queryset.filter(Q(error_at__lt=cutoff) | Q(error_at__isnull=True, last_processed_at__lt=cutoff))
            filters["older_than"] = options["older_than"]
        if options["message_contains"]:
            queryset = queryset.filter(error_message__icontains=options["message_contains"])
            filters["message_contains"] = options["message_contains"]
        if options["ids"]:
            parts = [part for part in options["ids"].split(",") if part.strip()]
            ids = [parse_id(part) for part in parts]
            if not parts or None in ids:
                raise CommandError(f"--ids {options['ids']!r} must be comma-separated sync ids (whole numbers from 1).")
            queryset = queryset.filter(pk__in=ids)
            filters["ids"] = ids
        return queryset, filters

    def handle(self, *args, **options):
        user = find_user(options["user"])
        queryset, filters = self.selection(options)
        selection = operations.select_matching(queryset, filters)
        count = len(selection.ids)
        shown = ", ".join(map(str, selection.ids[:20])) + (" …" if count > 20 else "")
        if count == 0:
            self.stdout.write(self.style.NOTICE("No sync matches; nothing to do."))
            return
        if options["dry_run"]:
            self.stdout.write(f"Would {self.verb.lower()} {count} sync(s): {shown}. Nothing was changed (dry run).")
            return
        if operations.needs_confirmation(selection, all_matching=False) and not options["yes"]:
            if not sys.stdin.isatty():
                raise CommandError(f"{count} syncs match; pass --yes to {self.verb.lower()} them without asking.")
            answer = input(f"{self.verb} {count} syncs? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                self.stdout.write(self.style.NOTICE("Nothing was changed."))
                return
        try:
            operation = operations.submit(
                self.action(options), selection, user=user, source=Operation.Source.COMMAND, run_now=True
            )
        except operations.ActionRefused as refusal:
            raise CommandError(str(refusal)) from None
        skipped = f"; {operation.skipped} skipped" if operation.skipped else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"{self.verb}: {operation.done} of {count} sync(s) done{skipped} (operation #{operation.pk})."
            )
        )
        if self.action(options) == Operation.Action.RETRY and broker_state()["error"]:
            self.stdout.write(
                self.style.NOTICE(
                    "The job queue (Redis) does not answer: the retried syncs wait, pending and due, and are "
                    "processed as soon as it is back."
                )
            )
        if options["verbosity"] >= 2:
            self.stdout.write(f"Ids: {shown}")
