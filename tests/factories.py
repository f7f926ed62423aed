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


def one_in_each_status(error_message: str = "boom", **per_status) -> dict[str, Synchronization]:
    """A sync in each status of one mapping, keyed by status; the one in error has
    ``error_message``. ``per_status``: extra fields for a status, e.g.
    ``processing={"claimed_by": "job-1"}``."""
    repo = Repository.objects.create(name="R", kind="sandbox")
    on = Mapping.objects.create(name="M", left=repo, right=repo, right_scope="B")
    made = {}
    for number, status in enumerate(SyncStatus.values):
        made[status] = Synchronization.objects.create(
            mapping=on,
            left_key=f"A-{number}",
            status=status,
            error_message=error_message if status == SyncStatus.ERROR else "",
            ignore_changes=status == SyncStatus.IGNORED,
            **per_status.get(status, {}),
        )
    return made
