"""Small builders of syncs for the page and command tests."""

from datetime import timedelta

from django.utils import timezone

from synchronizations.models import LogEntry, Mapping, Repository, Synchronization, SyncStatus


def mapping(name: str = "Web ↔ QA") -> Mapping:
    left, _ = Repository.objects.get_or_create(name=f"{name} left", kind="sandbox")
    right, _ = Repository.objects.get_or_create(name=f"{name} right", kind="sandbox")
    return Mapping.objects.create(name=name, left=left, right=right)


def sync(on: Mapping, key: str, status: str = SyncStatus.OK, **fields) -> Synchronization:
    defaults = {
        "title": f"Title of {key}",
        "left_url": f"https://left.example/{key}",
        "right_key": f"R{key}",
        "right_url": f"https://right.example/R{key}",
        "last_processed_at": timezone.now() - timedelta(hours=1),
    }
    if status != SyncStatus.ERROR:
        return Synchronization.objects.create(mapping=on, left_key=key, status=status, **{**defaults, **fields})
    # In error the way the engine puts a sync there: SynchronizationQuerySet.fail().
    message = fields.pop("error_message", f"Field 'priority' value 'Blocker' has no mapping ({key})")
    detail = fields.pop("error_detail", "")
    at = fields.pop("error_at", timezone.now())
    made = Synchronization.objects.create(mapping=on, left_key=key, status=SyncStatus.OK, **{**defaults, **fields})
    Synchronization.objects.filter(pk=made.pk).fail(message, detail, now=at, processed=False)
    made.refresh_from_db()
    return made


def log(on: Synchronization, message: str, minutes_ago: int = 0) -> LogEntry:
    return LogEntry.objects.create(
        sync=on, mapping=on.mapping, message=message, timestamp=timezone.now() - timedelta(minutes=minutes_ago)
    )
