"""The domain: repositories, the mappings between them, the synchronizations (pairs
of linked artifacts) they produce, their log, and the operator actions on them."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone


class Repository(models.Model):
    """A connection to one issue tracker."""

    class Kind(models.TextChoices):
        SANDBOX = "sandbox", "Sandbox (built in)"
        ROUNDUP = "roundup", "Roundup"
        GITHUB = "github", "GitHub"
        JIRA = "jira", "Jira"
        GITLAB = "gitlab", "GitLab"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SANDBOX)
    base_url = models.URLField(blank=True, help_text="Web address of the tracker; artifact links start here.")
    username = models.CharField(max_length=200, blank=True)
    secret = models.CharField(
        max_length=500, blank=True, help_text="Password or API token used by the connector (never shown in pages)."
    )
    settings = models.JSONField(default=dict, blank=True, help_text="Connector-specific options.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.name


class Mapping(models.Model):
    """What is kept in sync between a scope of one repository and a scope of another."""

    class ConflictPolicy(models.TextChoices):
        NEWEST = "newest", "Most recent change wins"
        LEFT = "left", "Left side wins"
        RIGHT = "right", "Right side wins"

    name = models.CharField(max_length=100, unique=True)
    left = models.ForeignKey(Repository, on_delete=models.PROTECT, related_name="+")
    left_scope = models.CharField(max_length=200, blank=True, help_text="Project or query on the left side.")
    right = models.ForeignKey(Repository, on_delete=models.PROTECT, related_name="+")
    right_scope = models.CharField(max_length=200, blank=True, help_text="Project or query on the right side.")
    field_map = models.JSONField(
        default=list,
        blank=True,
        help_text="Rules: [{left, right, direction: both|left_to_right|right_to_left, values: {..}, default}].",
    )
    conflict_policy = models.CharField(max_length=10, choices=ConflictPolicy.choices, default=ConflictPolicy.NEWEST)
    enabled = models.BooleanField(default=True)
    detection_interval = models.PositiveIntegerField(default=60, help_text="Seconds between change detections.")
    left_cursor = models.CharField(max_length=200, blank=True, help_text="Change-detection position on the left.")
    right_cursor = models.CharField(max_length=200, blank=True, help_text="Change-detection position on the right.")
    last_detection_at = models.DateTimeField(null=True, blank=True)
    last_detection_error = models.TextField(blank=True)
    # Set while a change detection runs, so that two never run at once for a mapping.
    detection_claimed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from synchronizations.engine.fieldmap import field_map_problems

        problems = field_map_problems(self.field_map)
        if problems:
            raise ValidationError({"field_map": problems})
        if self.left_id and self.left_id == self.right_id and self.left_scope == self.right_scope:
            raise ValidationError("A mapping cannot keep a scope in sync with itself: change a side or a scope.")


_KEY = re.compile(r"\b[A-Z][A-Z0-9]*-\d+\b")
_ISSUE = re.compile(r"#\d+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def error_pattern(message: str) -> str:
    """The kind of an error message: artifact keys and numbers replaced, so that
    "WEB-12 timed out after 30 s" and "WEB-7 timed out after 31 s" are one kind."""
    pattern = _KEY.sub("<key>", message)
    pattern = _ISSUE.sub("#<n>", pattern)
    return _NUMBER.sub("<n>", pattern)[:300]


class SyncStatus(models.TextChoices):
    OK = "ok", "OK"
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    ERROR = "error", "Error"
    IGNORED = "ignored", "Ignored"

    @classmethod
    def tally(cls, counts: dict[str, int]) -> list[dict]:
        """Every status in order, with its count from ``counts`` (0 if absent)."""
        return [{"value": value, "label": label, "count": counts.get(value, 0)} for value, label in cls.choices]


# The Syncs tab's default order: last processed first, never processed last.
LAST_PROCESSED_DESC = F("last_processed_at").desc(nulls_last=True)


class NullsOrderIndex(models.Index):
    """An index whose DESC NULLS LAST columns match the Syncs tab's order on
    PostgreSQL. SQLite puts NULLs last in DESC order by itself and refuses the
    words in an index, so there the index is created without them."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor == "sqlite":
            plain = [
                models.OrderBy(e.expression, descending=e.descending) if isinstance(e, models.OrderBy) else e
                for e in self.expressions
            ]
            return models.Index(*plain, name=self.name).create_sql(model, schema_editor, using=using, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class SynchronizationQuerySet(models.QuerySet):
    def status_counts(self) -> dict[str, int]:
        """How many syncs of this queryset are in each status (one GROUP BY). For all
        syncs or one mapping's, SyncCount has the answer without scanning."""
        return dict(self.order_by().values_list("status").annotate(n=models.Count("pk")))


class Synchronization(models.Model):
    """One pair of linked artifacts and the state of keeping them in sync."""

    Status = SyncStatus

    # No index of its own: the (mapping, ...) indexes below start with it.
    mapping = models.ForeignKey(Mapping, on_delete=models.PROTECT, related_name="synchronizations", db_index=False)
    left_key = models.CharField(max_length=100, blank=True)
    left_url = models.URLField(max_length=500, blank=True)
    right_key = models.CharField(max_length=100, blank=True, help_text="Empty until the counterpart is created.")
    right_url = models.URLField(max_length=500, blank=True)
    title = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=SyncStatus.choices, default=SyncStatus.PENDING)
    last_processed_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    # The message with its keys and numbers taken out, so that the dashboard can
    # count errors of the same kind together.
    error_pattern = models.CharField(max_length=300, blank=True, editable=False)
    error_detail = models.TextField(blank=True, help_text="Traceback or response body of the last error.")
    error_at = models.DateTimeField(null=True, blank=True)
    retry_count = models.PositiveIntegerField(default=0, help_text="Retries so far, asked for or automatic.")
    attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Failed attempts since the last success or Retry; automatic retries stop at the limit."
    )
    next_retry_at = models.DateTimeField(
        null=True, blank=True, help_text="When a pending sync is due to be queued (again)."
    )
    ignore_changes = models.BooleanField(default=False)
    # The claim of the worker job processing it: its task id, and since when.
    claimed_by = models.CharField(max_length=64, blank=True, editable=False)
    processing_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A change arrived while it was being processed: process it once more afterwards.
    recheck = models.BooleanField(default=False, editable=False)
    # What was last written or read on each side, to tell real changes from our own
    # writes coming back (no ping-pong).
    left_fingerprint = models.CharField(max_length=64, blank=True)
    right_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SynchronizationQuerySet.as_manager()

    class Meta:
        permissions = [("run_sync_actions", "Can retry syncs and clear their errors")]
        constraints = [
            # An artifact is linked once per mapping; a side stays empty until created.
            models.UniqueConstraint(
                fields=["mapping", "left_key"], condition=~Q(left_key=""), name="sync_unique_left_key"
            ),
            models.UniqueConstraint(
                fields=["mapping", "right_key"], condition=~Q(right_key=""), name="sync_unique_right_key"
            ),
        ]
        indexes = [
            # Syncs tab, default order (last processed first, never processed last, id
            # breaking ties), with no filter, a status, a mapping, or both. The id is in
            # the index so that a deep page skips index entries only.
            NullsOrderIndex(LAST_PROCESSED_DESC, F("id").desc(), name="sync_processed"),
            NullsOrderIndex("status", LAST_PROCESSED_DESC, F("id").desc(), name="sync_status_processed"),
            NullsOrderIndex(
                "mapping",
                "status",
                LAST_PROCESSED_DESC,
                F("id").desc(),
                name="sync_mapping_status_processed",
            ),
            NullsOrderIndex("mapping", LAST_PROCESSED_DESC, F("id").desc(), name="sync_mapping_processed"),
            # (No partial indexes "WHERE status = 'error'": SQLite's planner passed them
            # over for queries with the status as a parameter, as Django sends it.)
            # Dashboard: errors in the last 24 h, latest errors:
            # WHERE status = 'error' AND error_at >= ? / ORDER BY error_at DESC.
            models.Index(fields=["status", "-error_at"], name="sync_status_error_at"),
            # Dashboard: the most frequent errors, GROUP BY error_pattern WHERE status = 'error'.
            models.Index(fields=["status", "error_pattern"], name="sync_status_pattern"),
            # Engine: pending syncs whose retry time has come: WHERE status = 'pending' AND next_retry_at <= now.
            models.Index(fields=["status", "next_retry_at"], name="sync_status_next_retry"),
            # The Syncs tab's pattern filter, in any status (and its counts by status). Without
            # the status in it, a Retry (which keeps the error for history) leaves it alone.
            models.Index(fields=["error_pattern"], name="sync_pattern"),
        ]

    def __str__(self) -> str:
        return f"{self.left_key or '?'} ↔ {self.right_key or '?'}"

    def save(self, *args, **kwargs):
        self.error_pattern = error_pattern(self.error_message) if self.error_message else ""
        super().save(*args, **kwargs)


class SyncCountQuerySet(models.QuerySet):
    def by_status(self) -> dict[str, int]:
        return {status: n for status, n in self.values_list("status").annotate(n=models.Sum("n")) if n}

    def by_mapping(self) -> dict[int, dict[str, int]]:
        counts: dict[int, dict[str, int]] = {}
        for mapping_id, status, n in self.values_list("mapping_id", "status", "n"):
            if n:
                counts.setdefault(mapping_id, {})[status] = n
        return counts


class SyncCount(models.Model):
    """How many syncs a mapping has in a status. Kept exact by database triggers
    (synchronizations/derived.py) on every write to Synchronization; never written
    from Python except by derived.rebuild()."""

    mapping = models.ForeignKey(
        Mapping, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    status = models.CharField(max_length=12, choices=SyncStatus.choices)
    n = models.BigIntegerField(default=0)

    objects = SyncCountQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["mapping", "status"], name="synccount_mapping_status")]

    def __str__(self) -> str:
        return f"{self.mapping_id} {self.status}: {self.n}"


class LogEntry(models.Model):
    """One line of history. Append-only: nothing edits or deletes it from the UI."""

    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    timestamp = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    message = models.TextField()
    detail = models.TextField(blank=True, help_text="Stack trace, response body or other long detail.")
    actor = models.CharField(
        max_length=150, blank=True, help_text="Who caused this: a username, or empty for the engine."
    )
    # The foreign keys have no index of their own: the indexes below start with them.
    sync = models.ForeignKey(
        Synchronization, null=True, blank=True, on_delete=models.SET_NULL, related_name="log_entries", db_index=False
    )
    mapping = models.ForeignKey(
        Mapping, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    operation = models.ForeignKey(
        "Operation", null=True, blank=True, on_delete=models.SET_NULL, related_name="log_entries", db_index=False
    )

    class Meta:
        verbose_name_plural = "log entries"
        indexes = [
            # Sync detail: WHERE sync_id = ? ORDER BY timestamp DESC.
            models.Index(fields=["sync", "-timestamp"], name="log_sync_time"),
            # Logs tab: ORDER BY timestamp DESC, id DESC, pages by (timestamp, id) < cursor.
            models.Index(fields=["-timestamp", "-id"], name="log_time"),
            # Logs tab filtered by mapping, the same order.
            models.Index(fields=["mapping", "-timestamp", "-id"], name="log_mapping_time"),
            # An operation's entries (few of the millions have one, so only those are indexed).
            models.Index(fields=["operation"], condition=Q(operation__isnull=False), name="log_operation"),
        ]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level}: {self.message[:80]}"


class Operation(models.Model):
    """One operator action over a set of syncs: the audit trail and the job record."""

    class Action(models.TextChoices):
        RETRY = "retry", "Retry"
        CLEAR = "clear", "Clear Errors"
        CLEAR_IGNORE = "clear_ignore", "Clear Errors and Ignore Changes"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        WEB = "web", "Web UI"
        ADMIN = "admin", "Django admin"
        COMMAND = "command", "Management command"

    action = models.CharField(max_length=20, choices=Action.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WEB)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    # The set acted on: either explicit ids, or a filter bounded by the highest sync
    # id at submit time (so syncs created afterwards are never swept in).
    sync_ids = models.JSONField(null=True, blank=True)
    filter_params = models.JSONField(null=True, blank=True)
    max_sync_id = models.BigIntegerField(null=True, blank=True)
    unknown_ids = models.JSONField(default=list, blank=True, help_text="Ids asked for that match no sync.")
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Dashboard: latest operations, ORDER BY requested_at DESC.
            models.Index(fields=["-requested_at"], name="operation_requested"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} #{self.pk} ({self.get_state_display()})"

    def get_absolute_url(self) -> str:
        return reverse("operation_detail", args=[self.pk])

    @property
    def is_active(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def progress_percent(self) -> int:
        return 100 if not self.total else round(100 * (self.done + self.failed) / self.total)


class SandboxArtifact(models.Model):
    """An artifact of a repository of kind "sandbox": a tracker kept in our own
    database, for the demo and the tests, editable in the admin. Write it with
    save() (or the connector); a bulk_create must number change_seq itself."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="sandbox_artifacts")
    key = models.CharField(max_length=100)
    fields = models.JSONField(default=dict, help_text="title, description, status, priority, assignee, labels, …")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)
    # Position in the repository's change feed: taken from SandboxSequence in the
    # writing transaction, so feed order is commit order and a cursor misses nothing.
    change_seq = models.BigIntegerField(default=0, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "key"], name="sandbox_unique_key")]
        indexes = [
            # Change detection: WHERE repository_id = ? AND change_seq > ? ORDER BY change_seq.
            models.Index(fields=["repository", "change_seq"], name="sandbox_changes"),
        ]

    def __str__(self) -> str:
        return self.key

    def save(self, *args, **kwargs):
        """Every write is a change: a new version (for an edit), time and feed position."""
        with transaction.atomic():
            if self.pk is not None:
                self.version += 1
                self.updated_at = timezone.now()
            self.change_seq = SandboxSequence.take(self.repository_id)
            super().save(*args, **kwargs)


class SandboxSequence(models.Model):
    """The change counter of one sandbox repository. Taking a number locks the row
    until the transaction ends, so numbers are handed out in commit order."""

    repository = models.OneToOneField(Repository, on_delete=models.CASCADE, primary_key=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.repository_id}: {self.last}"

    @classmethod
    def take(cls, repository_id: int, count: int = 1) -> int:
        """Reserves ``count`` numbers (call inside a transaction); returns the last one."""
        if not cls.objects.filter(repository_id=repository_id).update(last=models.F("last") + count):
            try:
                with transaction.atomic():
                    cls.objects.create(repository_id=repository_id, last=count)
            except IntegrityError:
                cls.objects.filter(repository_id=repository_id).update(last=models.F("last") + count)
        return cls.objects.get(repository_id=repository_id).last
