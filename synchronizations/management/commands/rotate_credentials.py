"""manage.py rotate_credentials: re-encrypt every encrypted value (repository
credentials, webhook secrets, alert channel URLs: credentials.ENCRYPTED) with the
first key in force (see synchronizations/credentials.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from synchronizations import credentials


class Command(BaseCommand):
    help = (
        "Re-encrypts every stored secret (repository credentials, webhook secrets, alert channel URLs) with the "
        "first key in force (SYNCWEB_CREDENTIAL_KEYS, else the key derived from SECRET_KEY), so that older keys "
        "can then be dropped. With --new-key, prints a fresh key for SYNCWEB_CREDENTIAL_KEYS and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--new-key", action="store_true", help="Print a new Fernet key and exit.")
        parser.add_argument(
            "--current-key",
            action="store_true",
            help="Print the key that encrypts now (derived from SECRET_KEY when SYNCWEB_CREDENTIAL_KEYS is unset), "
            "to list it as the old key when moving to keys of your own, and exit.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check that every secret can be read.")

    def handle(self, *args, new_key: bool, current_key: bool, dry_run: bool, **options):
        if new_key:
            self.stdout.write(credentials.new_key())
            return
        if current_key:
            self.stdout.write(credentials.keys()[0].decode())
            return
        unreadable, rotated = [], 0
        with transaction.atomic():
            for encrypted in credentials.ENCRYPTED:
                manager = encrypted.model._default_manager
                for row in manager.exclude(**{encrypted.field: ""}).select_for_update():
                    try:
                        value = credentials.rotate(getattr(row, encrypted.field))
                    except credentials.CredentialError:
                        unreadable.append(encrypted.describe(row))
                        continue
                    if not dry_run:
                        manager.filter(pk=row.pk).update(**{encrypted.field: value})
                    rotated += 1
        for name in unreadable:
            self.stdout.write(self.style.ERROR(f"- {name}: no key in force decrypts it; enter it again."))
        verb = "can be re-encrypted" if dry_run else "re-encrypted with the first key"
        self.stdout.write(self.style.SUCCESS(f"{rotated} secret(s) {verb}."))
        if unreadable:
            raise CommandError(f"{len(unreadable)} secret(s) could not be read.")
