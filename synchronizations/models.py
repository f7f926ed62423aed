"""The domain: repositories, the mappings between them, the synchronizations (pairs
of linked artifacts) they produce, their log, and the operator actions on them."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import IntegrityError, connections, models, transaction
from django.db.models import F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest
from django.db.models.sql import UpdateQuery
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from synchronizations import credentials
from synchronizations.engine.errors import RepositoryError
from synchronizations.engine.fieldmap import field_map_problems
from syncweb import zones
from syncweb.filters import usable_moment
from syncweb.inputs import parse_id


class RepositoryQuerySet(models.QuerySet):
    def record_success(self, now: datetime) -> list[int]:
        """A call succeeded: the repositories are healthy again (unhealthy ones
        return, and are returned: their mappings resume), last success ``now``."""
        recovered = self.filter(healthy=False)._ids()
        self.update(healthy=True, unhealthy_since=None, last_success_at=now)
        return recovered

    def record_failure(self, reason: str, now: datetime, *, unhealthy: bool) -> list[int]:
        """A call failed for ``reason``: last failure ``now``; with ``unhealthy`` (the
        tracker refused our credentials or permissions), the repositories are marked
        unhealthy (since the first such failure) and their mappings pause. Returns
        the ids of the repositories that were healthy until now and are not any more."""
        changes = {"last_failure_at": now, "last_failure": reason[:1000]}
        turned = []
        if unhealthy:
            turned = self.filter(healthy=True)._ids()
            changes |= {"healthy": False, "unhealthy_since": Coalesce(F("unhealthy_since"), Value(now))}
        self.update(**changes)
        return turned

    def due_for_health_check(self, now: datetime, interval: timedelta) -> "RepositoryQuerySet":
        """Enabled unhealthy repositories not checked within ``interval``."""
        return self.filter(enabled=True, healthy=False).filter(
            Q(health_checked_at__isnull=True) | Q(health_checked_at__lte=now - interval)
        )

    def _ids(self) -> list[int]:
        return list(self.values_list("pk", flat=True))


class Repository(models.Model):
    """A connection to one issue tracker, and its health as the engine last saw it."""

    class Kind(models.TextChoices):
        SANDBOX = "sandbox", "Sandbox (built in)"
        REDMINE = "redmine", "Redmine"
        ROUNDUP = "roundup", "Roundup"
        GITHUB = "github", "GitHub"
        JIRA = "jira", "Jira"
        GITLAB = "gitlab", "GitLab"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.SANDBOX)
    base_url = models.URLField(blank=True, help_text="Web address of the tracker; artifact links start here.")
    username = models.CharField(max_length=200, blank=True)
    # Encrypted (synchronizations/credentials.py); read it with secret_value().
    secret = models.TextField(
        blank=True, help_text="Password, API key or token used by the connector (stored encrypted, never shown)."
    )
    settings = models.JSONField(default=dict, blank=True, help_text="Connector-specific options.")
    enabled = models.BooleanField(default=True)
    # Health: an authentication or permission failure makes a repository unhealthy
    # and pauses its mappings until a call succeeds again.
    healthy = models.BooleanField(default=True, editable=False)
    unhealthy_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_failure = models.TextField(blank=True, editable=False, help_text="Why the last failed call failed.")
    health_checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = RepositoryQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "repositories"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problems = {}
        if not isinstance(self.settings, dict):
            problems["settings"] = 'Settings must be a JSON object, such as {} or {"default_tracker": "Bug"}.'
        if self.base_url and not self.base_url.lower().startswith(("http://", "https://")):
            problems["base_url"] = "The tracker's address must start with http:// or https://."
        # GitHub's connector takes https://api.github.com and GitLab's gitlab.com when none is given.
        if self.kind not in (self.Kind.SANDBOX, self.Kind.GITHUB, self.Kind.GITLAB) and not self.base_url:
            problems["base_url"] = "A tracker other than the sandbox needs its web address."
        if not problems:
            settings_problem = apps.get_app_config("synchronizations").settings_problem(self)
            if settings_problem:
                problems["settings"] = settings_problem
        if problems:
            raise ValidationError(problems)

    def set_secret(self, plain: str) -> None:
        """Stores ``plain`` encrypted (save() to keep it)."""
        self.secret = credentials.encrypt(plain)

    def secret_value(self) -> str:
        """The credential in plain text, for the connector only. Raises
        RepositoryError when it cannot be decrypted with the keys in force."""
        try:
            return credentials.decrypt(self.secret)
        except credentials.CredentialError as exc:
            raise RepositoryError(f"Repository '{self.name}': {exc}", repository_id=self.pk) from None

    @property
    def unhealthy_reason(self) -> str:
        """Why the repository is unhealthy ("" when healthy)."""
        return "" if self.healthy else (self.last_failure or "it refused our calls")


class MappingQuerySet(models.QuerySet):
    def in_trouble(self) -> list[dict]:
        """The Dashboard's mappings in trouble: those with syncs in error (from
        SyncCount), whose last change detection failed, or paused because a
        repository is unhealthy; paused first, then most errors first. Each is
        {"pk", "name", "errors", "detection_error", "paused"} ("paused": the reason,
        or ""). Two queries."""
        counts = dict(SyncCount.objects.filter(status=SyncStatus.ERROR, n__gt=0).values_list("mapping_id", "n"))
        troubled = self.filter(
            Q(pk__in=counts) | ~Q(last_detection_error="") | Q(left__healthy=False) | Q(right__healthy=False)
        ).select_related("left", "right")
        rows = [
            {
                "pk": mapping.pk,
                "name": mapping.name,
                "errors": counts.get(mapping.pk, 0),
                "detection_error": mapping.last_detection_error,
                "paused": mapping.paused_reason,
            }
            for mapping in troubled
        ]
        return sorted(rows, key=lambda row: (not row["paused"], -row["errors"], row["name"]))

    def request_rescan(self, now: datetime) -> list[int]:
        """Asks change detection for a full rescan of these mappings (both sides read
        from the start): rescan_requested_at = ``now``, replacing a request still
        waiting, so that a rescan already running when this one came does not answer
        it. Returns the ids (sorted). One statement."""
        return sorted(row[0] for row in update_returning(self.order_by(), ("id",), rescan_requested_at=now))

    def full_scan_candidates(self) -> "MappingQuerySet":
        """Enabled mappings with a periodic full scan (full_scan_hours above 0) and no
        rescan requested yet: those whose Mapping.next_full_scan_at() has come are due."""
        return self.filter(enabled=True, full_scan_hours__gt=0, rescan_requested_at__isnull=True)


# Why two sides may not cover the same artifacts (Mapping.clean()).
SCOPE_HELP = (
    "No two sides of mappings on one repository may overlap (an empty scope covers everything), "
    "not even to copy one scope to two places: an artifact created by one mapping would be new to the "
    "other, which could create artifacts without end."
)


class Mapping(models.Model):
    """What is kept in sync between a scope of one repository and a scope of another."""

    class ConflictPolicy(models.TextChoices):
        NEWEST = "newest", "Most recent change wins"
        LEFT = "left", "Left side wins"
        RIGHT = "right", "Right side wins"
        # Planview Hub's third choice: neither side is written for the field; the sync
        # goes to the error queue as a conflict, and an operator picks a side per field.
        ERROR = "error", "Raise an error (an operator decides)"

    name = models.CharField(max_length=100, unique=True)
    left = models.ForeignKey(Repository, on_delete=models.PROTECT, related_name="+")
    left_scope = models.CharField(
        max_length=200, blank=True, help_text="Project or query on the left side. " + SCOPE_HELP
    )
    right = models.ForeignKey(Repository, on_delete=models.PROTECT, related_name="+")
    right_scope = models.CharField(
        max_length=200, blank=True, help_text="Project or query on the right side. " + SCOPE_HELP
    )
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
    # A tracker asked us to wait (Retry-After): no detection before this.
    detection_after = models.DateTimeField(null=True, blank=True, editable=False)
    # Full rescans: change detection from the start of both sides, picking up what
    # incremental detection missed. Asked for by an operator (rescan_requested_at) or
    # every full_scan_hours (0: never).
    full_scan_hours = models.PositiveIntegerField(
        default=24, help_text="Hours between full rescans of both sides (0: never)."
    )
    last_full_scan_at = models.DateTimeField(null=True, blank=True, editable=False)
    rescan_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A tracker told us of a change (a webhook, hooks/receive.py): detection is due at
    # once, even while one runs (that one may have read the side already); cleared by
    # the detection that started after it was set.
    detection_requested_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = MappingQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def paused_reason(self) -> str:
        """Why the mapping is paused ("" when it is not): one of its repositories is
        unhealthy. Its syncs wait, pending, and it resumes by itself."""
        for repository in (self.left, self.right):
            if not repository.healthy:
                since = repository.unhealthy_since
                when = f" since {zones.text(since)}" if since else ""
                return f"Paused: repository '{repository.name}' is unhealthy{when}: {repository.unhealthy_reason}"
        return ""

    def detection_waits(self, now: datetime) -> str:
        """Why change detection of this mapping may not run now ("" when it may): the
        mapping or one of its repositories is disabled, a repository is unhealthy
        (paused), or a tracker asked us to wait (Retry-After). The conditions of
        detect.mappings_due(), its interval aside. Reads left and right."""
        if not self.enabled:
            return "the mapping is disabled"
        for repository in (self.left, self.right):
            if not repository.enabled:
                return f"repository '{repository.name}' is disabled"
        if self.paused_reason:
            return "the mapping is paused (" + self.paused_reason.removeprefix("Paused: ") + ")"
        if self.detection_after and self.detection_after > now:
            return f"a tracker asked us to wait until {zones.text(self.detection_after, seconds=True)}"
        return ""

    def next_full_scan_at(self, now: datetime) -> datetime | None:
        """When the periodic full rescan is due (in the past: due now; None: never,
        full_scan_hours is 0): full_scan_hours after the last one. A mapping never
        fully scanned gets its first within its first full_scan_hours, at the start of
        the hour whose number since the epoch equals its id modulo full_scan_hours,
        so that mappings do not all rescan at once (on the first start after an
        upgrade, or when several are created together); its first change detection
        read both sides from the start already."""
        hours = self.full_scan_hours
        if not hours:
            return None
        if self.last_full_scan_at is not None:
            return self.last_full_scan_at + timedelta(hours=hours)
        hour = int(now.timestamp() // 3600)
        slot = hour + (self.pk - hour) % hours
        return datetime.fromtimestamp(slot * 3600, tz=UTC)

    def clean(self) -> None:
        """Refuses a field map with problems, a scope its repository's connector
        cannot read (Connector.scope_problem), and sides that overlap (see overlaps())."""
        problems = field_map_problems(self.field_map)
        if problems:
            raise ValidationError({"field_map": problems})
        kinds = dict(Repository.objects.filter(pk__in=[self.left_id, self.right_id]).values_list("pk", "kind"))
        config = apps.get_app_config("synchronizations")
        scope_problems = {
            f"{side}_scope": problem
            for side, repository_id, scope in self.sides()
            if (problem := config.scope_problem(kinds.get(repository_id, ""), scope))
        }
        if scope_problems:
            raise ValidationError(scope_problems)
        overlaps = self.overlaps()
        if overlaps:
            raise ValidationError(overlaps)

    def sides(self) -> list[tuple[str, int, str]]:
        """(side, repository id, scope) of the sides whose repository is set."""
        sides = [("left", self.left_id, self.left_scope or ""), ("right", self.right_id, self.right_scope or "")]
        return [side for side in sides if side[1] is not None]

    def overlaps(self) -> list[str]:
        """One sentence per side of this mapping whose scope overlaps its other side
        or a side of another mapping on the same repository ([] when none does),
        naming both. Overlap is the repository's connector's rule
        (Connector.scopes_overlap); disabled mappings count too (they may be
        enabled again). Overlapping sides are refused even to fan one scope out to
        two places, because an artifact one mapping creates would be new to the
        other, which could create artifacts without end (issue 14). One query."""
        sides = self.sides()
        if not sides:
            return []
        repository_ids = {repository_id for _, repository_id, _ in sides}
        kinds = dict(Repository.objects.filter(pk__in=repository_ids).values_list("pk", "kind"))
        others = (
            Mapping.objects.filter(Q(left_id__in=repository_ids) | Q(right_id__in=repository_ids))
            .exclude(pk=self.pk)
            .order_by("name")
        )
        found = []
        if len(sides) == 2 and sides[0][1] == sides[1][1] and _overlap(kinds, *sides[0][1:], sides[1][2]):
            found.append(
                f"The left scope {sides[0][2]!r} and the right scope {sides[1][2]!r} of this mapping overlap on the "
                "same repository: an artifact could be copied into its own scope again and again."
            )
        for other in others:
            for side, repository_id, scope in sides:
                for other_side, other_repository_id, other_scope in other.sides():
                    if other_repository_id == repository_id and _overlap(kinds, repository_id, scope, other_scope):
                        found.append(
                            f"The {side} side (scope {scope!r}) overlaps the {other_side} side of mapping "
                            f"'{other.name}' (scope {other_scope!r}) on the same repository: give each a scope "
                            "that no other side covers."
                        )
        return found


def _overlap(kinds: dict[int, str], repository_id: int, a: str, b: str) -> bool:
    """Whether scopes ``a`` and ``b`` of one repository may cover a common artifact,
    by the rule of the repository's connector (SynchronizationsConfig.scopes_overlap)."""
    return apps.get_app_config("synchronizations").scopes_overlap(kinds.get(repository_id, ""), a, b)


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


# The statuses "Process all artifacts" leaves alone: a sync a worker holds right now,
# and one an operator chose to ignore (it stays ignored until someone retries it).
REPROCESS_LEAVES = (SyncStatus.PROCESSING, SyncStatus.IGNORED)
# What clearing an error sets (Clear Errors, and a success).
NO_ERROR = {"error_message": "", "error_pattern": "", "error_detail": "", "error_at": None, "error_context": {}}
# What giving a claim back sets.
UNCLAIMED = {"claimed_by": "", "processing_started_at": None}
# The processing start of an abandoned claim: older than any reaper cutoff.
ABANDONED_AT = datetime(2000, 1, 1, tzinfo=UTC)


def update_returning(queryset: models.QuerySet, columns: tuple[str, ...] = ("id",), **values) -> list[tuple]:
    """``queryset.update(**values)`` that returns, for each row it changed, the
    ``columns`` after the change: one statement (UPDATE ... RETURNING, SQLite 3.35+
    and PostgreSQL), so no other writer can come between reading and writing."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(values)
    compiler = query.get_compiler(queryset.db)
    try:
        compiler.pre_sql_setup()
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # e.g. pk__in=[]: nothing can match
        return []
    connection = connections[queryset.db]
    returning = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {returning}", params)
        return cursor.fetchall()


@dataclass(frozen=True)
class SyncOrder:
    """One order of the Syncs tab, as its sortable columns offer it: ``name`` is
    the URL's ``sort`` value ("title", "-title", "-last_processed_at", ...),
    ``field`` the column it sorts by (a Synchronization field, or the mapping's
    name), ``descending`` its direction, ``pk_descending`` the direction of the id
    that breaks ties (so that every order is total and a page never shifts).
    A ``nullable`` column (last processed) puts NULLs last in both directions."""

    name: str
    field: str
    descending: bool
    pk_descending: bool
    nullable: bool = False

    def value_of(self, sync: "Synchronization"):
        """The sync's value of the sorted column (None for a NULL)."""
        return sync.mapping.name if self.field == "mapping__name" else getattr(sync, self.field)

    def ordering(self) -> list:
        """order_by() arguments for the non-NULL rows in this order (the NULLs come
        after them, ordered by the id alone). A nullable column names where NULLs
        would go as its index has them (DESC NULLS LAST, or that index read
        backwards: ASC NULLS FIRST), although these rows have none: otherwise
        PostgreSQL cannot take the order from the index and sorts the whole range."""
        column = F(self.field)
        if self.nullable:
            first = column.desc(nulls_last=True) if self.descending else column.asc(nulls_first=True)
        else:
            first = column.desc() if self.descending else column.asc()
        return [first, F("pk").desc() if self.pk_descending else F("pk").asc()]


def _sync_orders() -> dict[str, SyncOrder]:
    """Every order the Syncs tab offers: each sortable column ascending and
    descending. A text column ascending breaks ties by the newest id first (and
    descending is its exact reverse); last processed breaks ties in its own
    direction, NULLs (never processed) last either way."""
    columns = {
        "status": "status",
        "mapping": "mapping__name",
        "left": "left_key",
        "right": "right_key",
        "title": "title",
        "last_processed_at": "last_processed_at",
    }
    orders = {}
    for name, field in columns.items():
        nullable = field == "last_processed_at"
        for descending in (False, True):
            sort = f"-{name}" if descending else name
            pk_descending = descending if nullable else not descending
            orders[sort] = SyncOrder(sort, field, descending, pk_descending, nullable)
    return orders


SYNC_ORDERS = _sync_orders()
# The Syncs tab's default: last processed first, never processed last (the
# sync_*processed indexes).
DEFAULT_SYNC_ORDER = SYNC_ORDERS["-last_processed_at"]


@dataclass(frozen=True)
class SyncCursor:
    """A position in one of the Syncs tab's orders: a sync's value of the sorted
    column and its id, written in the URL as ``<value>|<id>`` (a time in ISO 8601
    with its offset, "" for never; text as it is). It holds values, not a row
    number, so a bookmarked page stays valid while syncs come, go and move."""

    value: object
    pk: int

    def __str__(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else (self.value or "")
        return f"{value}|{self.pk}"

    @classmethod
    def of(cls, order: SyncOrder, sync: "Synchronization") -> "SyncCursor":
        """The position of ``sync`` in ``order``."""
        return cls(order.value_of(sync), sync.pk)

    @classmethod
    def parse(cls, raw: str, order: SyncOrder) -> "SyncCursor | None":
        """The cursor ``raw`` spells for ``order``, or None when it is not one
        str() made: no "|", an id that is not an ASCII number within a database
        id's range, a time (for last processed) without zone or outside
        syncweb.filters' range, text longer than a column holds. Never raises."""
        value_text, bar, pk_text = raw.rpartition("|")
        pk = parse_id(pk_text)
        if not bar or pk is None or len(value_text) > 500 or "\x00" in value_text:
            return None
        if not order.nullable:
            return cls(value_text, pk)
        if value_text == "":
            return cls(None, pk)
        try:
            moment = parse_datetime(value_text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None or not usable_moment(moment):
            return None
        return cls(moment, pk)


@dataclass
class SyncPage:
    """One page of the Syncs tab: its ``rows`` in order; ``next`` and
    ``previous`` the cursors of the pages beside it (``after=next``,
    ``before=previous``), None where there is none; ``first`` whether it is the
    first page (nothing before it)."""

    rows: list
    next: SyncCursor | None
    previous: SyncCursor | None
    first: bool


class SynchronizationQuerySet(models.QuerySet):
    """Every change of a sync's state, set-based: each method is one UPDATE of the
    syncs in the queryset that are in the state it starts from, and returns what it
    changed (ids, sorted). The engine, the operations, change detection, the demo
    and the bench call only these (the shape of healthchecks' claim and pretix's
    ``set_sync_error()`` / ``clear_in_flight()``).

    None of them queues work: the caller queues what they return (synchronizations.jobs)."""

    def status_counts(self) -> dict[str, int]:
        """How many syncs of this queryset are in each status (one GROUP BY). For all
        syncs or one mapping's, SyncCount has the answer without scanning."""
        return dict(self.order_by().values_list("status").annotate(n=models.Count("pk")))

    def page(
        self, order: SyncOrder, size: int, *, after: SyncCursor | None = None, before: SyncCursor | None = None
    ) -> SyncPage:
        """The page of ``size`` syncs in ``order`` right after the position
        ``after`` (None: from the start), or, given ``before``, the page right
        before that position. Keyset paging, as the Logs tab's: a page is found
        by values, so syncs processed, added or removed meanwhile never make a
        sync show twice or be skipped, and a deep page costs what the first does.

        Each part of the walk is a range of one index (the sync_*processed indexes
        for the default order, with a status and/or mapping filter): the rows with
        a value, then (NULLs last) those without. One query, two where a page
        reaches the never-processed syncs."""
        if before is not None:
            rows = self._walk(order, before, forward=False, limit=size + 1)
            if len(rows) <= size:  # nothing before these: the first page, full
                return self.page(order, size)
            rows = rows[:size][::-1]
            return SyncPage(rows, SyncCursor.of(order, rows[-1]), SyncCursor.of(order, rows[0]), first=False)
        rows = self._walk(order, after, forward=True, limit=size + 1)
        following = SyncCursor.of(order, rows[size - 1]) if len(rows) > size else None
        rows = rows[:size]
        previous = SyncCursor.of(order, rows[0]) if after is not None and rows else None
        return SyncPage(rows, following, previous, first=after is None)

    def _walk(self, order: SyncOrder, cursor: SyncCursor | None, *, forward: bool, limit: int) -> list:
        """Up to ``limit`` syncs past ``cursor`` in ``order`` (forward) or in its
        reverse (not forward: the nearest first)."""
        field = order.field
        descending = order.descending == forward
        pk_descending = order.pk_descending == forward
        pk_past = (lambda pk: Q(pk__lt=pk)) if pk_descending else (lambda pk: Q(pk__gt=pk))
        pk_order = F("pk").desc() if pk_descending else F("pk").asc()
        # The walk's direction of SyncOrder.ordering(), NULLS named as the index has
        # them (read backwards for the reverse walk): PostgreSQL reads the range from
        # the index only when the ORDER BY says where NULLs go as the index does.
        column = F(field)
        if order.nullable:
            value_order = [column.desc(nulls_last=True) if descending else column.asc(nulls_first=True), pk_order]
        else:
            value_order = [column.desc() if descending else column.asc(), pk_order]
        present = Q(**{f"{field}__isnull": False}) if order.nullable else Q()
        absent = Q(**{f"{field}__isnull": True})
        values = nulls = None
        if cursor is None:
            values = self.filter(present).order_by(*value_order)
            nulls = self.filter(absent).order_by(pk_order) if order.nullable else None
        elif cursor.value is None:  # among the NULLs, which come last
            nulls = self.filter(absent & pk_past(cursor.pk)).order_by(pk_order)
            values = None if forward else self.filter(present).order_by(*value_order)
        else:
            value = cursor.value
            # "at or past the value, and past the id where equal": a range of the index.
            past = Q(**{f"{field}__{'lte' if descending else 'gte'}": value}) & (
                Q(**{f"{field}__{'lt' if descending else 'gt'}": value}) | pk_past(cursor.pk)
            )
            values = self.filter(past).order_by(*value_order)
            nulls = self.filter(absent).order_by(pk_order) if order.nullable and forward else None
        parts = [values, nulls] if forward else [nulls, values]
        rows: list = []
        for part in parts:
            if part is not None and len(rows) < limit:
                rows += list(part[: limit - len(rows)])
        return rows

    def errors_since(self, since: datetime) -> int:
        """How many syncs are in error with an error at or after ``since`` (the
        Dashboard's "errors in the last 24 hours"; index sync_status_error_at)."""
        return self.filter(status=SyncStatus.ERROR, error_at__gte=since).count()

    def top_error_patterns(self, limit: int = 8) -> list[dict]:
        """The most frequent kinds of error among the syncs in error, as
        [{"pattern", "count"}], most frequent first (index sync_status_pattern)."""
        rows = (
            self.filter(status=SyncStatus.ERROR)
            .order_by()
            .values("error_pattern")
            .annotate(n=models.Count("pk"))
            .order_by("-n", "error_pattern")[:limit]
        )
        return [{"pattern": row["error_pattern"], "count": row["n"]} for row in rows]

    def latest_errors(self, limit: int = 8) -> "SynchronizationQuerySet":
        """The syncs in error, newest error first, with what the Dashboard shows."""
        return (
            self.filter(status=SyncStatus.ERROR)
            .select_related("mapping")
            .only("pk", "left_key", "right_key", "title", "error_message", "error_at", "mapping__name")
            .order_by("-error_at")[:limit]
        )

    def _changed(self, **values) -> list[int]:
        return sorted(row[0] for row in update_returning(self.order_by(), ("id",), **values))

    def claimed(self, token: str) -> "SynchronizationQuerySet":
        """The syncs job ``token`` holds (status processing, claimed by it)."""
        return self.filter(status=SyncStatus.PROCESSING, claimed_by=token)

    def claim(self, token: str, now: datetime) -> list[int]:
        """pending and due (no retry time, or it has come) -> processing, claimed by
        ``token``, which names one delivery of one job (process.delivery_token()).
        A sync already processing is never taken, not even by the same token: a job
        delivered again while its first delivery still runs (a broker visibility
        timeout shorter than the job) skips the syncs the first one holds, and the
        syncs of a delivery that died come back through the reaper, counted as an
        attempt (process.reap_stuck). Returns the ids claimed."""
        due = Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
        return self.filter(due, status=SyncStatus.PENDING)._changed(
            status=SyncStatus.PROCESSING,
            claimed_by=token,
            processing_started_at=now,
            next_retry_at=None,
            updated_at=now,
        )

    def finish(self, token: str, now: datetime, **changes) -> dict[int, str]:
        """A success of job ``token``: errors cleared, claim released, ``changes``
        (keys, URLs, fingerprints, title) saved, status ok; or pending again when a
        change arrived meanwhile (``recheck``), to be queued once more. Returns
        {id: status it ended in}; an id missing lost its claim to another job."""
        rows = update_returning(
            self.claimed(token).order_by(),
            ("id", "status"),
            status=models.Case(
                models.When(recheck=True, then=models.Value(SyncStatus.PENDING)), default=models.Value(SyncStatus.OK)
            ),
            recheck=False,
            last_processed_at=now,
            attempts=0,
            lost_count=0,
            updated_at=now,
            **NO_ERROR,
            **UNCLAIMED,
            **changes,
        )
        return dict(rows)

    def fail(
        self,
        message: str,
        detail: str = "",
        *,
        now: datetime,
        processed: bool = True,
        lost: bool = False,
        context: dict | None = None,
        **changes,
    ) -> list[int]:
        """-> error, with the message, its pattern (error_pattern(): the one place
        it is computed), the detail, the time and ``context`` (what an operator
        needs to resolve it: conflicting fields, the deleted side; {} for none);
        one more failed attempt; any claim released. With ``processed`` (a worker
        tried it), the last processed time is ``now`` too; with ``lost`` (the
        reaper gives up on a sync whose processing was lost once too often), one
        more lost processing. ``changes``: what a processing that wrote before
        failing saves as finish() would (keys, fingerprints, baseline, versions).
        Unlike the other methods it starts from any status: the caller narrows the
        queryset to what may fail (the engine to the syncs its job holds,
        ``claimed(token)``)."""
        also = {"last_processed_at": now} if processed else {}
        if lost:
            also["lost_count"] = F("lost_count") + 1
        return self._changed(
            status=SyncStatus.ERROR,
            error_message=message,
            error_pattern=error_pattern(message) if message else "",
            error_detail=detail,
            error_at=now,
            error_context=context or {},
            attempts=F("attempts") + 1,
            updated_at=now,
            **UNCLAIMED,
            **also,
            **changes,
        )

    def finish_many(self, token: str, now: datetime, changes: dict[int, dict]) -> dict[int, str]:
        """finish() of several syncs at once, each with its own ``changes`` ({id:
        {field: value}}): one UPDATE ... RETURNING, the values per sync chosen by
        CASE, as Django's bulk_update() does. Returns {id: status it ended in}; an
        id missing lost its claim."""
        if not changes:
            return {}
        return self.filter(pk__in=list(changes)).finish(token, now, **self._per_row(changes))

    def record_created_many(self, side: str, created: dict[int, tuple[str, str, str]]) -> list[int]:
        """Processing created artifacts on ``side``: ``created`` is {id: (key, URL,
        version)}; saved at once in one UPDATE, in their own commit, so that change
        detection knows the artifacts are linked before the syncs finish (no echo). Call on
        ``claimed(token)``; returns the ids changed (a missing one lost its claim)."""
        if side not in ("left", "right"):
            raise ValueError(f"side must be left or right, not {side!r}")
        values = {
            pk: {f"{side}_key": key, f"{side}_url": url, f"{side}_version": version[:200]}
            for pk, (key, url, version) in created.items()
        }
        if not values:
            return []
        return self.filter(pk__in=list(values), status=SyncStatus.PROCESSING)._changed(**self._per_row(values))

    def _per_row(self, changes: dict[int, dict]) -> dict:
        """{field: CASE id WHEN … THEN value … ELSE field END} for each field named in
        ``changes`` ({id: {field: value}}), as raw SQL with every value a parameter
        (built by hand: 100 syncs by 10 fields of When(pk=…) cost the ORM tens of
        milliseconds to resolve). Values are prepared by their model field, and cast
        to its column type where the database needs it (PostgreSQL)."""
        connection = connections[self.db]
        quote = connection.ops.quote_name
        cast = connection.features.requires_casted_case_in_updates
        expressions = {}
        names = sorted({name for values in changes.values() for name in values})
        for name in names:
            model_field = self.model._meta.get_field(name)
            value_sql = f"CAST(%s AS {model_field.db_type(connection)})" if cast else "%s"
            parts, params = [], []
            for pk, values in changes.items():
                if name in values:
                    parts.append(f"WHEN %s THEN {value_sql}")
                    params += [pk, model_field.get_db_prep_save(values[name], connection)]
            column = quote(model_field.column)
            sql = f"CASE {quote('id')} {' '.join(parts)} ELSE {column} END"
            expressions[name] = RawSQL(sql, params, output_field=model_field)  # noqa: S611  (our column names; values are parameters)
        return expressions

    def release(
        self,
        now: datetime,
        *,
        retry_at: datetime | None = None,
        failed_attempt: bool = False,
        lost: bool = False,
    ) -> list[int]:
        """processing -> pending, the claim given back: due at ``retry_at`` (None: as
        soon as it is queued). With ``failed_attempt`` (a transient failure), the
        attempt and retry counts go up by one; ``lost`` (the reaper puts back a sync
        whose processing was abandoned) is a failed attempt that also counts one more
        lost processing (lost_count). Used after a transient failure, for a disabled
        mapping's syncs, and by the reaper for a lost worker's claims."""
        counted = {}
        if failed_attempt or lost:
            counted = {"attempts": F("attempts") + 1, "retry_count": F("retry_count") + 1}
        if lost:
            counted["lost_count"] = F("lost_count") + 1
        return self.filter(status=SyncStatus.PROCESSING)._changed(
            status=SyncStatus.PENDING, next_retry_at=retry_at, updated_at=now, **UNCLAIMED, **counted
        )

    def retry(self, now: datetime) -> list[int]:
        """Any status but processing -> pending, due at once: the operator's Retry.
        The retry count goes up, the attempts (and lost processings) start again, an
        ignored sync stops ignoring changes; the error fields stay for history
        (README, "Operating the error queue")."""
        return self.exclude(status=SyncStatus.PROCESSING)._changed(
            status=SyncStatus.PENDING,
            ignore_changes=False,
            next_retry_at=None,
            attempts=0,
            lost_count=0,
            retry_count=F("retry_count") + 1,
            updated_at=now,
        )

    def reprocess(self, now: datetime) -> list[int]:
        """Any status but processing and ignored -> pending, due at once: "Process
        all artifacts" (Planview Hub's action after a mapping changed). Unlike
        retry() it is not a retry (the retry count stays) and ignored syncs stay
        ignored; the attempts and lost processings start again, the error fields
        stay for history (README, "Operating the error queue")."""
        return self.exclude(status__in=REPROCESS_LEAVES)._changed(
            status=SyncStatus.PENDING, next_retry_at=None, attempts=0, lost_count=0, updated_at=now
        )

    def clear(self, now: datetime, *, ignore_changes: bool = False) -> list[int]:
        """error -> ok (or ignored, with ``ignore_changes``): error fields cleared,
        nothing processed. Syncs not in error are left alone (README, "Operating the error queue")."""
        return self.filter(status=SyncStatus.ERROR)._changed(
            status=SyncStatus.IGNORED if ignore_changes else SyncStatus.OK,
            ignore_changes=ignore_changes,
            next_retry_at=None,
            attempts=0,
            lost_count=0,
            updated_at=now,
            **NO_ERROR,
        )

    def resolve(self, now: datetime, choices: dict[str, str]) -> list[int]:
        """Syncs in error with a conflict -> pending, due at once, with the operator's
        ``choices`` ({"<rule number>" or "*": "left" | "right"}) added to their
        conflict, for processing to apply. Call it for syncs with the same conflict
        context (the engine writes the context; one sync at a time from the page)."""
        resolved = []
        conflicted = self.filter(status=SyncStatus.ERROR, error_context__kind="conflict")
        for pk, context in conflicted.order_by("pk").values_list("pk", "error_context"):
            resolved += self.filter(pk=pk, status=SyncStatus.ERROR)._changed(
                status=SyncStatus.PENDING,
                error_context={**context, "choices": choices},
                next_retry_at=None,
                attempts=0,
                updated_at=now,
            )
        return sorted(resolved)

    def recreate(self, now: datetime) -> list[int]:
        """Syncs in error because one artifact was deleted, whose other artifact
        exists -> pending, due at once, with the deleted side's key, URL,
        fingerprint and the baseline forgotten: processing creates the artifact
        again from the other side. (Both gone: nothing to recreate from; left alone.)"""
        return self._forget_deleted(
            status=SyncStatus.PENDING,
            next_retry_at=None,
            attempts=0,
            error_context={},
            updated_at=now,
            both=False,
        )

    def unlink(self, now: datetime) -> list[int]:
        """Syncs in error because an artifact was deleted -> ignored, changes
        ignored, error message cleared, the deleted side forgotten (its key stays in
        ``error_context`` and the log): the remaining artifact stays linked to this
        sync, so change detection never takes it for a new one. Retry links it again
        by creating a new counterpart."""
        cleared = {name: value for name, value in NO_ERROR.items() if name != "error_context"}
        return self._forget_deleted(
            status=SyncStatus.IGNORED, ignore_changes=True, next_retry_at=None, attempts=0, updated_at=now, **cleared
        )

    def _forget_deleted(self, *, both: bool = True, **values) -> list[int]:
        """Syncs in error with a deleted artifact get ``values``, the deleted side
        forgotten; those whose both artifacts are gone (side "both") keep their keys,
        and are included only with ``both``. A side is taken only while the other
        side's key is there."""
        deleted = self.filter(status=SyncStatus.ERROR, error_context__kind="deleted")
        changed = []
        for side, other in (("left", "right"), ("right", "left")):
            changed += (
                deleted.filter(error_context__side=side)
                .exclude(**{f"{other}_key": ""})
                ._changed(**{f"{side}_key": "", f"{side}_url": "", f"{side}_fingerprint": ""}, synced={}, **values)
            )
        if both:
            changed += deleted.filter(error_context__side="both")._changed(**values)
        return sorted(changed)

    def mark_changed(self, now: datetime) -> list[int]:
        """ok or error -> pending, due at once: change detection saw an edit (an
        edit may have undone the cause of an error)."""
        return self.filter(status__in=[SyncStatus.OK, SyncStatus.ERROR])._changed(
            status=SyncStatus.PENDING, next_retry_at=None, attempts=0, updated_at=now
        )

    def flag_recheck(self) -> list[int]:
        """Syncs being processed get one more round once they finish (a change
        arrived meanwhile); returns the ids flagged (a sync that finished meanwhile
        is not among them: the caller marks it changed instead)."""
        return self.filter(status=SyncStatus.PROCESSING)._changed(recheck=True)

    def abandon(self) -> int:
        """Processing syncs -> taken by the reaper's next round (process.reap_stuck),
        as if their processing had started long ago: for a job that stopped because
        our own database failed (errors.DATABASE_FAILED). Returns how many."""
        return self.filter(status=SyncStatus.PROCESSING).update(processing_started_at=ABANDONED_AT)

    def make_due(self, now: datetime) -> list[int]:
        """Pending syncs -> due at once (a retry time of ``now``), so that the next
        queue_due round queues them: for pending syncs whose job was lost."""
        return self.filter(status=SyncStatus.PENDING)._changed(next_retry_at=now, updated_at=now)

    def linking(self, repository_id: int, keys: list[str]) -> "SynchronizationQuerySet":
        """The syncs, of any mapping, with one of ``keys`` as their side on repository
        ``repository_id`` (either side), and those being processed whose side on it
        is still empty (a create into it may be in flight), with their mappings:
        change detection's one query per batch (indexes sync_unique_left_key and
        sync_unique_right_key: mapping_id IN the mappings on that side)."""
        on_left = Mapping.objects.filter(left_id=repository_id).values("pk")
        on_right = Mapping.objects.filter(right_id=repository_id).values("pk")
        processing = SyncStatus.PROCESSING
        return self.filter(
            Q(mapping_id__in=on_left, left_key__in=keys)
            | Q(mapping_id__in=on_right, right_key__in=keys)
            | Q(mapping_id__in=on_left, left_key="", status=processing)
            | Q(mapping_id__in=on_right, right_key="", status=processing)
        ).select_related("mapping")

    def record_versions(self, side: str, versions: dict[int, str]) -> None:
        """Each sync of ``versions`` ({id: version}) was seen at that version on
        ``side`` ("left" or "right"). One UPDATE; not a change of state."""
        if not versions:
            return
        field = f"{side}_version"
        self.filter(pk__in=versions).update(
            **{field: models.Case(*(models.When(pk=pk, then=Value(v)) for pk, v in versions.items()), default=F(field))}
        )

    def take_due(self, now: datetime) -> list[int]:
        """Pending syncs whose retry time has come lose it (so that the next round
        does not take them again); returns their ids, for the caller to queue."""
        return self.filter(status=SyncStatus.PENDING, next_retry_at__lte=now)._changed(
            next_retry_at=None, updated_at=now
        )


class Synchronization(models.Model):
    """One pair of linked artifacts and the state of keeping them in sync."""

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
    # The version (Artifact.version) each side was last seen at by change detection
    # or processing: an artifact listed again at the same version did not change, so
    # a sync in error stays there; any other version is an edit ("" = never seen).
    left_version = models.CharField(max_length=200, blank=True, editable=False)
    right_version = models.CharField(max_length=200, blank=True, editable=False)
    # The value of each mapped field on each side when the two last agreed,
    # {"left": {field: value}, "right": {field: value}}: a field whose value differs
    # from it changed on that side since (field-level merge, engine/merge.py).
    synced = models.JSONField(default=dict, blank=True, editable=False)
    # What an operator needs to resolve the error: {"kind": "conflict", "fields": [...]}
    # or {"kind": "deleted", "side": "left", "key": ..., "repository": ...}; {} otherwise.
    error_context = models.JSONField(default=dict, blank=True, editable=False)
    # Times its processing was lost (worker died, the reaper put it back) since the
    # last success; each counts as a failed attempt.
    lost_count = models.PositiveSmallIntegerField(default=0, editable=False)
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
    (synchronizations/derived/schema.py) on every write to Synchronization; never written
    from Python except by schema.rebuild()."""

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


@dataclass(frozen=True)
class LogCursor:
    """A position in the Logs tab's newest-first order: an entry's time and id,
    written in the URL as ``<ISO time>|<id>``."""

    moment: datetime
    pk: int

    def __str__(self) -> str:
        return f"{self.moment.isoformat()}|{self.pk}"

    @classmethod
    def parse(cls, raw: str) -> "LogCursor | None":
        """The cursor ``raw`` spells, or None when it is not one str() made: no
        time zone, no such time (a 25th hour), an id that is not an ASCII number
        within a database id's range. Never raises."""
        moment_text, _, pk_text = raw.rpartition("|")
        try:
            moment = parse_datetime(moment_text) if moment_text else None
        except ValueError:  # well formed, but no such time (a 25th hour, an offset of 99 h)
            moment = None
        pk = parse_id(pk_text)
        if moment is None or moment.tzinfo is None or pk is None or not usable_moment(moment):
            return None
        return cls(moment, pk)


class LogEntryQuerySet(models.QuerySet):
    def add_for_syncs(
        self,
        sync_ids: list[int],
        message: str,
        *,
        level: str = "info",
        actor: str = "",
        detail: str = "",
        operation_id: int | None = None,
        at: datetime | None = None,
    ) -> None:
        """One entry per sync of ``sync_ids`` (with the sync's mapping), all saying
        ``message``, written by one INSERT ... SELECT: a chunk of 5,000 syncs costs
        one statement, not 5,000 objects to build and bind."""
        if not sync_ids:
            return
        connection = connections[self.db]
        quote = connection.ops.quote_name
        columns = ", ".join(
            quote(name)
            for name in ("timestamp", "level", "message", "detail", "actor", "sync_id", "mapping_id", "operation_id")
        )
        placeholders = ", ".join(["%s"] * len(sync_ids))
        # Our own table and column names; every value is a parameter.
        sql = (
            f"INSERT INTO {quote(LogEntry._meta.db_table)} ({columns}) "  # noqa: S608
            f"SELECT %s, %s, %s, %s, %s, id, mapping_id, %s FROM {quote(Synchronization._meta.db_table)} "
            f"WHERE id IN ({placeholders})"
        )
        moment = connection.ops.adapt_datetimefield_value(at or timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(sql, [moment, level, message, detail, actor, operation_id, *sync_ids])

    def newest_first(self) -> "LogEntryQuerySet":
        """The Logs tab's order (served by the log_time indexes)."""
        return self.order_by("-timestamp", "-pk")

    def before(self, moment: datetime, pk: int) -> "LogEntryQuerySet":
        """The entries after the position (``moment``, ``pk``) in newest_first()
        order: the Logs tab's next page (keyset, so entries that arrive meanwhile
        never shift a page)."""
        return self.filter(Q(timestamp__lt=moment) | Q(timestamp=moment, pk__lt=pk))

    def page(self, cursor: "LogCursor | None", size: int) -> tuple[list["LogEntry"], "LogCursor | None"]:
        """One page of ``size`` entries in newest_first() order after ``cursor``
        (None: the newest), and the cursor of the next page (None: this is the last).
        One query."""
        entries = self.newest_first()
        if cursor is not None:
            entries = entries.before(cursor.moment, cursor.pk)
        page = list(entries[: size + 1])
        following = LogCursor(page[size - 1].timestamp, page[size - 1].pk) if len(page) > size else None
        return page[:size], following


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

    objects = LogEntryQuerySet.as_manager()

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


class OperationQuerySet(models.QuerySet):
    def latest(self, limit: int = 6) -> "OperationQuerySet":
        """The newest operations with who asked, without their (long) id lists."""
        return self.select_related("requested_by").defer("sync_ids").order_by("-requested_at")[:limit]

    def stalled(self, now: datetime, stall: timedelta) -> "OperationQuerySet":
        """Queued or running operations whose job was never handed to the broker, or
        that neither were dispatched nor made progress for ``stall``: their job was
        lost (broker down or restarted, worker killed)."""
        since = now - stall
        quiet = Q(dispatched_at__lt=since) & (Q(progress_at__isnull=True) | Q(progress_at__lt=since))
        return self.filter(
            Q(dispatched_at__isnull=True) | quiet, state__in=[Operation.State.QUEUED, Operation.State.RUNNING]
        )


class Operation(models.Model):
    """One operator action over a set of syncs: the audit trail and the job record."""

    class Action(models.TextChoices):
        RETRY = "retry", "Retry"
        CLEAR = "clear", "Clear Errors"
        CLEAR_IGNORE = "clear_ignore", "Clear Errors and Ignore Changes"
        REPROCESS = "reprocess", "Process all artifacts"
        RESOLVE = "resolve", "Resolve conflict"
        RECREATE = "recreate", "Recreate deleted artifact"
        UNLINK = "unlink", "Unlink"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    class Source(models.TextChoices):
        WEB = "web", "Web UI"
        ADMIN = "admin", "Django admin"
        COMMAND = "command", "Management command"
        API = "api", "JSON API"

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
    # What the action needs besides the syncs: Resolve's side per conflicting field,
    # {"choices": {"<rule number>": "left" | "right"}}.
    parameters = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # Syncs no longer eligible when their chunk came (being processed, or no longer in error).
    skipped = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When its job was last handed to the broker (None: never yet, the broker was
    # down), and when a run last made progress: a queued or running operation that
    # has done neither for a while lost its job and is dispatched again.
    dispatched_at = models.DateTimeField(null=True, blank=True, editable=False)
    progress_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = OperationQuerySet.as_manager()

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
        return 100 if not self.total else round(100 * (self.done + self.skipped) / self.total)


class SandboxArtifact(models.Model):
    """An artifact of a repository of kind "sandbox": a tracker kept in our own
    database, for the demo and the tests, editable in the admin. Write it with
    save() (or the connector); a bulk_create must number change_seq itself. A new
    artifact's key number comes from SandboxKeyNumber.take() (a bulk insert calls
    SandboxKeyNumber.cover() afterwards), so that no key is ever given twice."""

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


class SandboxKeyNumber(models.Model):
    """The last number handed out for keys with ``prefix`` in a sandbox repository,
    so that a key is never given twice, even after its artifact is deleted (a sync
    still linked to WEB-3 must never find an unrelated new WEB-3)."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    prefix = models.CharField(max_length=100)
    last = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["repository", "prefix"], name="sandbox_key_number_prefix")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.last}"

    @classmethod
    def take(cls, repository_id: int, prefix: str, count: int = 1) -> int:
        """The next ``count`` numbers for keys ``prefix``-n in the repository, never
        handed out before; returns the last of them (call inside a transaction: the
        row stays locked until it ends). Safe when two take the first numbers of a
        prefix at once."""
        counter = cls.objects.filter(repository_id=repository_id, prefix=prefix)
        if not counter.update(last=F("last") + count):
            try:
                with transaction.atomic():
                    cls.objects.create(repository_id=repository_id, prefix=prefix, last=count)
            except IntegrityError:  # another writer created it meanwhile
                counter.update(last=F("last") + count)
        return counter.values_list("last", flat=True).get()

    @classmethod
    def raise_to(cls, repository_id: int, prefix: str, number: int) -> None:
        """Numbers up to ``number`` count as handed out (for keys written without
        take(), such as a bulk insert): the counter goes up to it, never down."""
        counter = cls.objects.filter(repository_id=repository_id, prefix=prefix)
        if not counter.update(last=Greatest(F("last"), Value(number))):
            try:
                with transaction.atomic():
                    cls.objects.create(repository_id=repository_id, prefix=prefix, last=number)
            except IntegrityError:  # another writer created it meanwhile
                counter.update(last=Greatest(F("last"), Value(number)))

    @classmethod
    def cover(cls, keys: Iterable[tuple[int, str]]) -> None:
        """Counts the (repository id, key) pairs' numbers as handed out: after
        inserting artifacts in bulk. One UPDATE per prefix."""
        highest: dict[tuple[int, str], int] = {}
        for repository_id, key in keys:
            prefix, number = split_key(key)
            if prefix:
                highest[repository_id, prefix] = max(highest.get((repository_id, prefix), 0), number)
        for (repository_id, prefix), number in highest.items():
            cls.raise_to(repository_id, prefix, number)


def split_key(key: str) -> tuple[str, int]:
    """("WEB", 12) for "WEB-12"; ("", 0) for a key without a number."""
    prefix, _, number = key.rpartition("-")
    if not prefix or not number.isascii() or not number.isdigit():
        return "", 0
    return prefix, int(number)
