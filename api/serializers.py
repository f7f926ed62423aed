"""What the API answers and accepts. Read-only serializers of the domain's rows
(the console's columns), the shapes of the Dashboard and Metrics numbers, and
the action request. Every field is described for the OpenAPI schema."""

import re
from datetime import date

from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from metrics.periods import EARLIEST, LATEST, MAX_DAYS
from synchronizations import operations
from synchronizations.models import (
    SYNC_ORDERS,
    LogEntry,
    Mapping,
    Operation,
    Repository,
    Synchronization,
    SyncStatus,
)
from syncweb.inputs import MAX_ID

STATUS_COUNTS_SCHEMA = {
    "type": "object",
    "description": "Syncs per status; every status is present.",
    "properties": {status: {"type": "integer", "minimum": 0} for status in SyncStatus.values},
    "required": list(SyncStatus.values),
    "example": {"ok": 9000, "pending": 200, "processing": 10, "error": 600, "ignored": 190},
}


def all_statuses(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` with every status, 0 where absent, in the statuses' order."""
    return {status: counts.get(status, 0) for status in SyncStatus.values}


def absolute(request, url: str) -> str:
    """``url`` absolute (a path gets the request's scheme and host), "" for "".
    Without a request (the schema, a test), as it is."""
    if not url or request is None or "://" in url:
        return url
    return request.build_absolute_uri(url)


def artifact_url(request, url: str) -> str:
    """An artifact's address as the API shows it: absolute, and "" for a link
    into the Django admin (the sandbox's artifacts) that the request's user
    cannot open (not staff)."""
    if url and "://" not in url and url.startswith(reverse("admin:index")):
        user = getattr(request, "user", None)
        if not (user is not None and user.is_active and user.is_staff):
            return ""
    return absolute(request, url)


class ArtifactSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The artifact's key in its tracker (empty until created).")
    url = serializers.CharField(
        help_text="Its address in the tracker, absolute (empty if unknown, or if it is a page of the Django admin "
        "and the token's user is not staff)."
    )


class MappingRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SyncSerializer(serializers.ModelSerializer):
    """A sync as the Syncs tab lists it."""

    url = serializers.SerializerMethodField(help_text="This sync in the API.")
    mapping = serializers.SerializerMethodField()
    left = serializers.SerializerMethodField()
    right = serializers.SerializerMethodField()

    class Meta:
        model = Synchronization
        fields = [
            "id", "url", "status", "mapping", "left", "right", "title", "last_processed_at", "error_message",
            "error_at", "retry_count",
        ]  # fmt: skip
        read_only_fields = fields

    # The columns these read (the list loads only them).
    COLUMNS = (
        "status", "mapping__name", "left_key", "left_url", "right_key", "right_url", "title", "last_processed_at",
        "error_message", "error_at", "retry_count",
    )  # fmt: skip

    def get_url(self, sync: Synchronization) -> str:
        return self._absolute(reverse("api:sync-detail", args=[sync.pk]))

    @extend_schema_field(MappingRefSerializer)
    def get_mapping(self, sync: Synchronization) -> dict:
        return {"id": sync.mapping_id, "name": sync.mapping.name}

    @extend_schema_field(ArtifactSerializer)
    def get_left(self, sync: Synchronization) -> dict:
        return {"key": sync.left_key, "url": artifact_url(self.context.get("request"), sync.left_url)}

    @extend_schema_field(ArtifactSerializer)
    def get_right(self, sync: Synchronization) -> dict:
        return {"key": sync.right_key, "url": artifact_url(self.context.get("request"), sync.right_url)}

    def _absolute(self, path: str) -> str:
        return absolute(self.context.get("request"), path)


class SyncDetailSerializer(SyncSerializer):
    """A sync with everything its detail page shows (its log is its own list)."""

    log = serializers.SerializerMethodField(help_text="Its log entries, newest first (paginated).")
    console_url = serializers.SerializerMethodField(help_text="Its page in the console.")
    error_context = serializers.JSONField(
        read_only=True,
        help_text='What resolving the error needs: {"kind": "conflict", "fields": [...]} or {"kind": "deleted", '
        '"side", "key", "repository"}; {} otherwise.',
    )

    class Meta(SyncSerializer.Meta):
        fields = [
            *SyncSerializer.Meta.fields, "error_detail", "error_context", "attempts", "next_retry_at",
            "ignore_changes", "created_at", "updated_at", "log", "console_url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_log(self, sync: Synchronization) -> str:
        return self._absolute(reverse("api:sync-log", args=[sync.pk]))

    def get_console_url(self, sync: Synchronization) -> str:
        return self._absolute(reverse("sync_detail", args=[sync.pk]))


class LogEntrySerializer(serializers.ModelSerializer):
    sync = serializers.IntegerField(source="sync_id", allow_null=True, help_text="The sync's id, if any.")
    mapping = serializers.IntegerField(source="mapping_id", allow_null=True, help_text="The mapping's id, if any.")
    operation = serializers.IntegerField(
        source="operation_id", allow_null=True, help_text="The operation that wrote it, if any."
    )

    class Meta:
        model = LogEntry
        fields = ["id", "timestamp", "level", "message", "detail", "actor", "sync", "mapping", "operation"]
        read_only_fields = fields


class OperationSerializer(serializers.ModelSerializer):
    """An operator action over a set of syncs, with its progress."""

    url = serializers.SerializerMethodField(help_text="This operation in the API.")
    console_url = serializers.SerializerMethodField(help_text="Its page in the console.")
    action_label = serializers.CharField(source="get_action_display", help_text="The action's name in the console.")
    requested_by = serializers.SerializerMethodField(help_text="Who asked for it (null: a command or the system).")
    progress_percent = serializers.IntegerField(help_text="(done + skipped) / total, in percent.")

    class Meta:
        model = Operation
        fields = [
            "id", "url", "console_url", "action", "action_label", "state", "source", "requested_by", "requested_at",
            "total", "done", "skipped", "progress_percent", "finished_at", "error", "filter_params", "max_sync_id",
            "unknown_ids",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, operation: Operation) -> str:
        return absolute(self.context.get("request"), reverse("api:operation-detail", args=[operation.pk]))

    def get_console_url(self, operation: Operation) -> str:
        return absolute(self.context.get("request"), operation.get_absolute_url())

    def get_requested_by(self, operation: Operation) -> str | None:
        return operation.requested_by.get_username() if operation.requested_by else None


class RepositorySerializer(serializers.ModelSerializer):
    """A repository and its health (an unhealthy one pauses its mappings)."""

    base_url = serializers.CharField(help_text="The tracker's web address (empty for the sandbox).")

    class Meta:
        model = Repository
        fields = [
            "id", "name", "kind", "base_url", "enabled", "healthy", "unhealthy_since", "last_success_at",
            "last_failure_at", "last_failure",
        ]  # fmt: skip
        read_only_fields = fields


class RepositoryRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Repository
        fields = ["id", "name", "kind", "healthy"]
        read_only_fields = fields


class MappingSerializer(serializers.ModelSerializer):
    """A mapping with its repositories, state and counts per status."""

    left = RepositoryRefSerializer()
    right = RepositoryRefSerializer()
    paused_reason = serializers.CharField(help_text="Why it is paused (empty: it is not).")
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Mapping
        fields = [
            "id", "name", "enabled", "left", "left_scope", "right", "right_scope", "conflict_policy",
            "detection_interval", "last_detection_at", "last_detection_error", "paused_reason", "counts",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(STATUS_COUNTS_SCHEMA)
    def get_counts(self, mapping: Mapping) -> dict[str, int]:
        return all_statuses(self.context.get("counts", {}).get(mapping.pk, {}))


class StatusCountsSerializer(serializers.Serializer):
    counts = serializers.SerializerMethodField()
    total = serializers.IntegerField(help_text="The sum of the counts.")

    @extend_schema_field(STATUS_COUNTS_SCHEMA)
    def get_counts(self, data: dict) -> dict[str, int]:
        return all_statuses(data["counts"])


# --- Actions ---------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """A body object whose members are only the serializer's fields: an unknown
    member (a misspelled "dryrun" or "staus", which would otherwise be ignored
    and the action run on more syncs than meant) is a 400 naming each one
    (``#/dryrun``, ``#/filter/staus``). Nested StrictSerializers check their own."""

    def to_internal_value(self, data):
        """The validated members; ValidationError naming every unknown member too."""
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, dict) else []
        errors = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not unknown or not isinstance(exc.detail, dict):
                raise
            errors = exc.detail
        known = ", ".join(self.fields)
        errors |= {name: [f"Not a member of this object (its members: {known})."] for name in unknown}
        if errors:
            raise serializers.ValidationError(errors)
        return value


class SyncFilterSerializer(StrictSerializer):
    """The Syncs tab's filters, for "every sync matching"."""

    status = serializers.ChoiceField(choices=SyncStatus.choices, required=False)
    mapping = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, help_text="A mapping's id.")
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="Text in the title, a key or the error message."
    )
    pattern = serializers.CharField(
        required=False, allow_blank=True, max_length=300, help_text="An error kind, as the Dashboard lists them."
    )


ACTION_EXAMPLES = [
    OpenApiExample("Retry the syncs 12 and 13", value={"action": "retry", "ids": [12, 13]}, request_only=True),
    OpenApiExample(
        "Retry every sync in error of mapping 3",
        value={"action": "retry", "filter": {"status": "error", "mapping": 3}},
        request_only=True,
    ),
    OpenApiExample(
        "How many syncs would Clear Errors touch?",
        value={"action": "clear", "filter": {"status": "error", "q": "timed out"}, "dry_run": True},
        request_only=True,
    ),
]


@extend_schema_serializer(examples=ACTION_EXAMPLES)
class ActionRequestSerializer(StrictSerializer):
    """An action on chosen syncs (``ids``) or on every sync matching ``filter``
    (bounded by the highest sync id now, or by ``max_id`` from a dry run)."""

    action = serializers.ChoiceField(
        choices=[
            (value, Operation.Action(value).label)
            for value in Operation.Action.values
            if value in operations.SYNC_ACTIONS
        ],
        help_text="retry: any sync but one being processed; clear and clear_ignore: syncs in error only; "
        "recreate and unlink: syncs in error because an artifact was deleted.",
    )
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        allow_empty=False,
        max_length=100_000,
        help_text="The syncs to act on (ids that match no sync are left out and reported).",
    )
    filter = SyncFilterSerializer(required=False, help_text="Act on every sync matching these filters instead.")
    max_id = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ID,
        help_text="With filter: only syncs up to this id (a dry run's max_id: act on the set it counted).",
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Only count and check: nothing is changed, nothing recorded."
    )

    def validate(self, data: dict) -> dict:
        if ("ids" in data) == ("filter" in data):
            raise serializers.ValidationError(
                "Give either ids or filter (every sync matching it), not both or neither."
            )
        if "max_id" in data and "filter" not in data:
            raise serializers.ValidationError({"max_id": ["max_id bounds a filter; give filter too."]})
        return data


class DryRunSerializer(serializers.Serializer):
    action = serializers.CharField()
    count = serializers.IntegerField(help_text="How many syncs the action would be applied to.")
    unknown_ids = serializers.ListField(child=serializers.IntegerField(), help_text="Ids that match no sync.")
    max_id = serializers.IntegerField(
        allow_null=True, help_text="The bound of a filter's set: send it back to act on the set counted."
    )
    confirmation_in_console = serializers.BooleanField(
        help_text="Whether the console would ask to confirm first (more than 100 syncs, or every sync matching)."
    )


class ActionAcceptedSerializer(serializers.Serializer):
    operation = OperationSerializer()
    url = serializers.CharField(help_text="The operation in the API: poll it for progress.")
    queued = serializers.BooleanField(
        help_text="False when the job queue (Redis) did not answer: the operation is recorded and runs once it is back."
    )


# --- Dashboard -------------------------------------------------------------------


class QueueSerializer(serializers.Serializer):
    waiting = serializers.IntegerField(allow_null=True, help_text="Jobs waiting in the queue (null: Redis is down).")
    workers = serializers.DictField(
        child=serializers.FloatField(),
        allow_null=True,
        help_text="Live workers: hostname -> seconds since its last heartbeat (null: Redis is down).",
    )
    error = serializers.CharField(help_text="Why the queue could not be read (empty: it could).")
    pending = serializers.IntegerField(help_text="Syncs pending (waiting for a worker).")


class ThroughputSerializer(serializers.Serializer):
    hour = serializers.IntegerField(help_text="Changes carried over in the last hour.")
    day = serializers.IntegerField(help_text="… in the last 24 hours.")


class ErrorPatternSerializer(serializers.Serializer):
    pattern = serializers.CharField(help_text="The kind of error (keys and numbers taken out); the `pattern` filter.")
    count = serializers.IntegerField()


class TroubleSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    errors = serializers.IntegerField(help_text="Syncs in error.")
    detection_error = serializers.CharField(help_text="Why the last change detection failed (empty: it did not).")
    paused = serializers.CharField(help_text="Why the mapping is paused (empty: it is not).")


class LatestErrorSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    mapping = serializers.CharField(source="mapping.name")
    left_key = serializers.CharField()
    right_key = serializers.CharField()
    title = serializers.CharField()
    error_message = serializers.CharField()
    error_at = serializers.DateTimeField(allow_null=True)


class FiringAlertSerializer(serializers.Serializer):
    """An alert firing now, as the Dashboard's Alerts card lists it."""

    id = serializers.IntegerField(source="pk")
    title = serializers.CharField(help_text="What is wrong.")
    detail = serializers.CharField(help_text="More about it (may be empty).")
    rule = serializers.CharField(source="rule_label", help_text="The rule that fired it (a deleted one says so).")
    key = serializers.CharField(help_text='What it is about: "mapping:3", "repository:1", "workers", ...')
    value = serializers.FloatField(help_text="How much: errors, minutes, operations.")
    started_at = serializers.DateTimeField(help_text="Since when the condition holds.")
    fired_at = serializers.DateTimeField()
    link = serializers.SerializerMethodField(help_text="The console page that shows it (absolute; empty: none).")

    def get_link(self, alert) -> str:
        return absolute(self.context.get("request"), alert.link)


class FailingRuleSerializer(serializers.Serializer):
    """An alert rule whose last evaluation failed."""

    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    error = serializers.CharField(help_text="Why its last evaluation failed.")
    error_since = serializers.DateTimeField(allow_null=True, help_text="Since when it fails.")


class AlertsCardSerializer(serializers.Serializer):
    """The Dashboard's Alerts card (alerts.models.dashboard_alerts)."""

    firing = FiringAlertSerializer(many=True, help_text="Alerts firing now, longest-standing first (at most 5).")
    more = serializers.BooleanField(help_text="Whether more alerts fire than `firing` lists.")
    failing_rules = FailingRuleSerializer(
        many=True, source="failing", help_text="Rules that cannot be evaluated: their alerts are not up to date."
    )
    history_url = serializers.SerializerMethodField(help_text="The console's alert history.")

    def get_history_url(self, card: dict) -> str:
        return absolute(self.context.get("request"), reverse("alerts"))


class DashboardSerializer(serializers.Serializer):
    """The Dashboard's numbers (syncweb/dashboard.py summary)."""

    now = serializers.DateTimeField()
    status_counts = serializers.SerializerMethodField()
    errors_24h = serializers.IntegerField(help_text="Syncs in error whose error came in the last 24 hours.")
    throughput = ThroughputSerializer()
    queue = QueueSerializer()
    top_errors = ErrorPatternSerializer(many=True)
    latest_errors = LatestErrorSerializer(many=True)
    latest_operations = OperationSerializer(many=True)
    mappings_in_trouble = TroubleSerializer(many=True)
    alerts = AlertsCardSerializer(help_text="The Alerts card: what is firing now and the rules that fail.")

    @extend_schema_field(STATUS_COUNTS_SCHEMA)
    def get_status_counts(self, summary: dict) -> dict[str, int]:
        return {entry["value"]: entry["count"] for entry in summary["status_counts"]}


# --- Metrics ---------------------------------------------------------------------


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    days = serializers.IntegerField()


class ComparisonSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="Created, Updated or All synchronizations.")
    current = serializers.IntegerField(help_text="In the period.")
    previous = serializers.IntegerField(help_text="In the previous period of the same length.")
    change = serializers.FloatField(allow_null=True, help_text="In percent (null: the previous period had none).")


class DaySerializer(serializers.Serializer):
    date = serializers.DateField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    total = serializers.IntegerField()


class CellSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(help_text="ISO weekday, 1 (Monday) to 7 (Sunday).")
    hour = serializers.IntegerField(help_text="Hour of the day, 0 to 23, in the server's time zone.")
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    total = serializers.IntegerField()


class MetricsSerializer(serializers.Serializer):
    """The Metrics page's numbers for a period (metrics/queries.py)."""

    period = PeriodSerializer()
    previous = PeriodSerializer()
    mapping = serializers.IntegerField(allow_null=True, help_text="The mapping filtered on (null: all).")
    totals = ComparisonSerializer(many=True)
    daily = DaySerializer(many=True, help_text="One entry per day of the period.")
    grouped = CellSerializer(many=True, help_text="Weekday × hour, only the cells with synchronizations.")


class CalendarDateField(serializers.DateField):
    """A date YYYY-MM-DD; one written right that the calendar does not have
    (2026-02-30) is refused saying so, not as a "wrong format"."""

    def to_internal_value(self, value):
        """The date; ValidationError saying whether the format is wrong or the date does not exist."""
        if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise serializers.ValidationError(f"The date {value} does not exist.", code="invalid") from None
        return super().to_internal_value(value)


class MetricsQuerySerializer(serializers.Serializer):
    """The period (start + days, end + days, or start + end; default: the 31 days
    ending today) and an optional mapping. All three of start, end and days is
    refused (one of them would be ignored)."""

    start = CalendarDateField(required=False, help_text="First day, YYYY-MM-DD.")
    end = CalendarDateField(required=False, help_text="Last day, YYYY-MM-DD.")
    days = serializers.IntegerField(required=False, min_value=1, help_text="Length in days, at most 1098.")
    mapping = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text="A mapping's id.")

    def _in_range(self, day: date) -> date:
        if not EARLIEST <= day <= LATEST:
            raise serializers.ValidationError(f"Give a date from {EARLIEST} to {LATEST}.")
        return day

    validate_start = validate_end = _in_range

    def validate_days(self, days: int) -> int:
        if days > MAX_DAYS:
            raise serializers.ValidationError(f"Give at most {MAX_DAYS} days.")
        return days

    def validate(self, attrs: dict) -> dict:
        """Two of start, end and days at most; an end not before the start, at most
        MAX_DAYS after it (metrics.periods' bounds, named per parameter)."""
        if {"start", "end", "days"} <= set(attrs):
            message = "Give two of start, end and days, not all three: one of them would be ignored."
            raise serializers.ValidationError({key: [message] for key in ("start", "end", "days")})
        if "start" in attrs and "end" in attrs:
            start, end = attrs["start"], attrs["end"]
            if end < start:
                raise serializers.ValidationError({"end": [f"The end date {end} is before the start date {start}."]})
            if (end - start).days + 1 > MAX_DAYS:
                raise serializers.ValidationError({"end": [f"From {start} to {end} is more than {MAX_DAYS} days."]})
        return attrs


class SyncListQuerySerializer(serializers.Serializer):
    ordering = serializers.ChoiceField(
        choices=list(SYNC_ORDERS),
        required=False,
        default="-last_processed_at",
        help_text="The Syncs tab's orders: a column (status, mapping, left, right, title, last_processed_at), "
        "ascending, or descending with a leading `-`. Default `-last_processed_at`: last processed first. Syncs "
        "never processed come last in both directions of last_processed_at, as in the tab; ties go by id.",
    )
