"""manage.py rotate_webhook_secrets: re-encrypt every webhook secret with the first
key in force, as rotate_credentials does for repository credentials (run both when
rotating the keys; see synchronizations/credentials.py)."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from hooks.models import Webhook
from synchronizations import credentials


class Command(BaseCommand):
    help = (
        "Re-encrypts every webhook secret with the first key in force (SYNCWEB_CREDENTIAL_KEYS, else the key "
        "derived from SECRET_KEY), like rotate_credentials for repository credentials: run it with "
        "rotate_credentials, before dropping the old key."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check that every secret can be read.")

    def handle(self, *args, dry_run: bool, **options):
        unreadable, rotated = [], 0
        with transaction.atomic():
            for webhook in Webhook.objects.exclude(secret="").select_related("repository").select_for_update():
                try:
                    value = credentials.rotate(webhook.secret)
                except credentials.CredentialError:
                    unreadable.append(webhook.repository.name)
                    continue
                if not dry_run:
                    Webhook.objects.filter(pk=webhook.pk).update(secret=value)
                rotated += 1
        for name in unreadable:
            self.stdout.write(
                self.style.ERROR(f"- '{name}': no key in force decrypts its webhook secret; set a new one.")
            )
        verb = "can be re-encrypted" if dry_run else "re-encrypted with the first key"
        self.stdout.write(self.style.SUCCESS(f"{rotated} webhook secret(s) {verb}."))
        if unreadable:
            raise CommandError(f"{len(unreadable)} webhook secret(s) could not be read.")
