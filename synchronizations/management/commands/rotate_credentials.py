"""manage.py rotate_credentials: re-encrypt every repository credential with the
first key in force (see synchronizations/credentials.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synchronizations import credentials
from synchronizations.models import Repository


class Command(BaseCommand):
    help = (
        "Re-encrypts every repository credential with the first key in force (SYNCWEB_CREDENTIAL_KEYS, "
        "else the key derived from SECRET_KEY), so that older keys can then be dropped. With --new-key, "
        "prints a fresh key for SYNCWEB_CREDENTIAL_KEYS and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--new-key", action="store_true", help="Print a new Fernet key and exit.")
        parser.add_argument(
            "--current-key",
            action="store_true",
            help="Print the key that encrypts now (derived from SECRET_KEY when SYNCWEB_CREDENTIAL_KEYS is unset), "
            "to list it as the old key when moving to keys of your own, and exit.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check that every credential can be read.")

    def handle(self, *args, new_key: bool, current_key: bool, dry_run: bool, **options):
        if new_key:
            self.stdout.write(credentials.new_key())
            return
        if current_key:
            self.stdout.write(credentials.keys()[0].decode())
            return
        unreadable, rotated = [], 0
        with transaction.atomic():
            for repository in Repository.objects.exclude(secret="").select_for_update():
                try:
                    value = credentials.rotate(repository.secret)
                except credentials.CredentialError:
                    unreadable.append(repository.name)
                    continue
                if not dry_run:
                    Repository.objects.filter(pk=repository.pk).update(secret=value)
                rotated += 1
        for name in unreadable:
            self.stdout.write(self.style.ERROR(f"- '{name}': no key in force decrypts its credential; enter it again."))
        verb = "can be re-encrypted" if dry_run else "re-encrypted with the first key"
        self.stdout.write(self.style.SUCCESS(f"{rotated} credential(s) {verb}."))
        if unreadable:
            raise CommandError(f"{len(unreadable)} credential(s) could not be read.")
