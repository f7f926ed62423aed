from django.core.management.base import BaseCommand
from django.db import transaction

from synchronizations.derived import schema
from synchronizations.models import SyncCount


class Command(BaseCommand):
    help = (
        "Recounts the syncs per mapping and status (the counts of the Syncs tab, the Dashboard and the "
        "Mappings pages) and rebuilds the search index, after a repair made around the database triggers."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            schema.install(force_rebuild=True)
        total = sum(SyncCount.objects.by_status().values())
        self.stdout.write(self.style.SUCCESS(f"Recounted {total} syncs; the search index is rebuilt."))
