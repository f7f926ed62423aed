from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.utils.html import format_html
from django.utils.text import Truncator

from accounts.roles import can_run_actions
from synchronizations import operations, rescans
from synchronizations.engine import health
from synchronizations.forms import ConfirmedSelectionForm
from synchronizations.models import (
    LogEntry,
    Mapping,
    Operation,
    Repository,
    SandboxArtifact,
    SandboxKeyNumber,
    Synchronization,
    split_key,
)
from syncweb import zones
from syncweb.admin import FORMFIELD_OVERRIDES, HistoryAdmin, SafeDateHierarchyMixin


class SecretInput(admin.widgets.AdminTextInputWidget):
    """Shows that a secret is set without ever sending it to the browser."""

    input_type = "password"

    def format_value(self, value):
        return None


@admin.action(description="Test connection")
def test_connection(modeladmin, request, queryset):
    """Calls each selected tracker and checks every mapping's scope and fields there."""
    for repository in queryset:
        report = health.check_repository(repository)
        if report.ok:
            modeladmin.message_user(
                request,
                f"'{repository.name}': reachable, credentials accepted, every mapping's scope and fields exist.",
                messages.SUCCESS,
            )
        else:
            modeladmin.message_user(request, f"'{repository.name}': " + " ".join(report.problems), messages.ERROR)


@admin.register(Repository)
class RepositoryAdmin(admin.ModelAdmin):
    actions = [test_connection]
    formfield_overrides = FORMFIELD_OVERRIDES
    list_display = ["name", "kind", "base_url", "enabled", "health"]
    list_filter = ["kind", "enabled", "healthy"]
    search_fields = ["name", "base_url"]
    readonly_fields = ["health", "last_success_at", "last_failure_at", "last_failure", "health_checked_at"]

    @admin.display(description="health")
    def health(self, obj: Repository) -> str:
        if obj.healthy:
            return "healthy"
        return f"unhealthy since {zones.text(obj.unhealthy_since)}: {obj.unhealthy_reason}"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["secret"].widget = SecretInput()
        form.base_fields["secret"].required = False
        form.base_fields[
            "secret"
        ].help_text = (
            "Password, API key or token. Stored encrypted and never shown; leave empty to keep the current one."
        )
        form.base_fields["kind"].help_text = (
            "Jira, GitHub and GitLab are verified against fakes of their documented APIs, not the live services: "
            "run the conformance suite against yours first (README, 'Connecting Jira, GitHub or GitLab')."
        )
        return form

    def save_model(self, request, obj, form, change):
        # An empty secret field keeps the current secret; a new one is stored encrypted.
        entered = form.cleaned_data.get("secret")
        if entered:
            obj.set_secret(entered)
        elif change:
            obj.secret = Repository.objects.only("secret").get(pk=obj.pk).secret
        super().save_model(request, obj, form, change)


@admin.action(description="Process all artifacts", permissions=["run_actions"])
def reprocess_mappings(modeladmin, request, queryset):
    """Every sync of the selected mappings but those being processed or ignored back
    to pending, as one Operation (operations.select_for_reprocess); always asks
    first with the number, and acts on the syncs up to the bound it showed."""
    shown = ConfirmedSelectionForm(request.POST)
    max_id = shown.cleaned_data["max_id"] if shown.is_valid() else None
    selection = operations.select_for_reprocess(queryset.values_list("pk", flat=True), max_id=max_id)
    if not selection.ids:
        modeladmin.message_user(
            request,
            "The selected mappings have no sync to process: every one is being processed or ignored (ignored "
            "syncs stay ignored). Nothing was changed.",
            messages.ERROR,
        )
        return None
    label = Operation.Action.REPROCESS.label
    if request.POST.get("confirmed") != "1" or max_id is None:
        return TemplateResponse(
            request,
            "admin/synchronizations/confirm_action.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": f"{label}: {len(selection.ids)} syncs?",
                "label": label,
                "count": len(selection.ids),
                "description": (
                    f"This puts the {len(selection.ids)} syncs of the selected mappings back to pending to be "
                    "processed again: every sync but those being processed right now and ignored ones (which stay "
                    "ignored). It is not counted as a retry."
                ),
                "hidden": {"max_id": selection.max_id},
                "post": request.POST,
                "opts": modeladmin.model._meta,
            },
        )
    return _submitted(modeladmin, request, Operation.Action.REPROCESS, selection)


@admin.action(description="Full rescan", permissions=["run_actions"])
def rescan_mappings(modeladmin, request, queryset):
    """Requests a full rescan of each selected mapping (rescans.request)."""
    for mapping in queryset.select_related("left", "right"):
        done = rescans.request(mapping, user=request.user, source=Operation.Source.ADMIN)
        if done.queued:
            modeladmin.message_user(request, f"Full rescan of '{mapping.name}' requested.", messages.SUCCESS)
        else:
            modeladmin.message_user(
                request,
                f"Full rescan of '{mapping.name}' requested; it runs at its next change detection, which waits: "
                f"{done.waits}.",
                messages.WARNING,
            )


@admin.register(Mapping)
class MappingAdmin(admin.ModelAdmin):
    formfield_overrides = FORMFIELD_OVERRIDES
    actions = [reprocess_mappings, rescan_mappings]
    list_display = [
        "name", "left", "left_scope", "right", "right_scope", "enabled", "last_detection_at", "last_full_scan_at",
    ]  # fmt: skip
    list_filter = ["enabled", "conflict_policy"]
    list_select_related = ["left", "right"]
    search_fields = ["name", "left_scope", "right_scope"]
    readonly_fields = [
        "left_cursor", "right_cursor", "last_detection_at", "last_detection_error", "last_full_scan_at",
        "rescan_requested_at",
    ]  # fmt: skip
    # Mapping.clean() checks the field map and that no side overlaps another side
    # (Mapping.overlaps()); the form shows what is wrong.

    def has_run_actions_permission(self, request) -> bool:
        return can_run_actions(request.user)


def _run_action(modeladmin, request, queryset, action: str) -> TemplateResponse | None:
    """Admin actions go through operations.py like the console: same rules, an
    Operation recorded, the work queued for a worker."""
    selection = operations.select_ids(queryset.values_list("pk", flat=True))
    if operations.needs_confirmation(selection, all_matching=False) and request.POST.get("confirmed") != "1":
        # The same rule as the console: more than CONFIRM_ABOVE syncs asks first.
        try:
            operations.check(action, selection)
        except operations.ActionRefused as refusal:
            modeladmin.message_user(request, str(refusal), messages.ERROR)
            return None
        return TemplateResponse(
            request,
            "admin/synchronizations/confirm_action.html",
            {
                **modeladmin.admin_site.each_context(request),
                "title": f"{Operation.Action(action).label} {len(selection.ids)} syncs?",
                "label": Operation.Action(action).label,
                "count": len(selection.ids),
                "post": request.POST,
                "opts": modeladmin.model._meta,
            },
        )
    return _submitted(modeladmin, request, action, selection)


def _submitted(modeladmin, request, action: str, selection: operations.Selection) -> None:
    """Submits ``action`` on ``selection`` from the admin and says what became of it."""
    try:
        operation = operations.submit(action, selection, user=request.user, source=Operation.Source.ADMIN)
    except operations.ActionRefused as refusal:
        modeladmin.message_user(request, str(refusal), messages.ERROR)
        return
    waiting = " is recorded; the job queue (Redis) does not answer, so it runs once the queue is back"
    modeladmin.message_user(
        request,
        format_html(
            '{}: <a href="{}">operation #{}</a> on {} sync(s){}.',
            operation.get_action_display(),
            operation.get_absolute_url(),
            operation.pk,
            operation.total,
            waiting if operation.dispatched_at is None else " submitted",
        ),
        messages.WARNING if operation.dispatched_at is None else messages.SUCCESS,
    )


@admin.action(description="Retry", permissions=["run_actions"])
def retry_action(modeladmin, request, queryset):
    return _run_action(modeladmin, request, queryset, Operation.Action.RETRY)


@admin.action(description="Clear errors", permissions=["run_actions"])
def clear_errors_action(modeladmin, request, queryset):
    return _run_action(modeladmin, request, queryset, Operation.Action.CLEAR)


@admin.action(description="Clear errors and ignore changes", permissions=["run_actions"])
def clear_errors_ignore_action(modeladmin, request, queryset):
    return _run_action(modeladmin, request, queryset, Operation.Action.CLEAR_IGNORE)


@admin.register(Synchronization)
class SynchronizationAdmin(SafeDateHierarchyMixin, admin.ModelAdmin):
    actions = [retry_action, clear_errors_action, clear_errors_ignore_action]
    formfield_overrides = FORMFIELD_OVERRIDES
    list_display = ["id", "status", "mapping", "left_key", "right_key", "title", "last_processed_at", "short_error"]
    list_filter = ["status", "mapping", "ignore_changes"]
    list_select_related = ["mapping"]
    search_fields = ["title", "left_key", "right_key", "error_message"]
    date_hierarchy = "last_processed_at"
    # The state of a sync changes only through the actions above (Retry, Clear
    # Errors, ...), which go through operations.py and the queryset's methods.
    readonly_fields = [
        "status",
        "error_message",
        "error_detail",
        "error_at",
        "retry_count",
        "attempts",
        "lost_count",
        "next_retry_at",
        "ignore_changes",
        "last_processed_at",
        "created_at",
        "updated_at",
        "left_fingerprint",
        "right_fingerprint",
        "claimed_by",
        "processing_started_at",
    ]
    raw_id_fields = ["mapping"]

    @admin.display(description="error message")
    def short_error(self, obj: Synchronization) -> str:
        return Truncator(obj.error_message).chars(80)

    def has_run_actions_permission(self, request) -> bool:
        return can_run_actions(request.user)


@admin.register(LogEntry)
class LogEntryAdmin(HistoryAdmin):
    list_display = ["timestamp", "level", "short_message", "actor", "sync_id", "mapping", "operation_id"]
    list_filter = ["level", "mapping"]
    list_select_related = ["mapping"]
    search_fields = ["message", "actor"]
    date_hierarchy = "timestamp"
    raw_id_fields = ["sync", "operation"]

    @admin.display(description="message")
    def short_message(self, obj: LogEntry) -> str:
        return Truncator(obj.message).chars(100)


@admin.register(Operation)
class OperationAdmin(HistoryAdmin):
    list_display = ["id", "action", "source", "requested_by", "requested_at", "state", "total", "done", "skipped"]
    list_filter = ["action", "state", "source"]
    list_select_related = ["requested_by"]
    search_fields = ["requested_by__username"]
    date_hierarchy = "requested_at"


class SandboxArtifactForm(forms.ModelForm):
    """A new artifact's key: a prefix ("WEB") takes the next number, a full key
    ("WEB-20") only a number never handed out for its prefix (keys are never given
    twice, even after a deletion: SandboxKeyNumber)."""

    class Meta:
        model = SandboxArtifact
        fields = ["repository", "key", "fields"]
        help_texts = {
            "key": "A prefix such as WEB takes the next number (WEB-13). A full key such as WEB-20 is taken "
            "only if no artifact ever had its number: keys are never given twice, even after a deletion."
        }

    def clean(self):
        cleaned = super().clean()
        key, repository = (cleaned.get("key") or "").strip(), cleaned.get("repository")
        if self.instance.pk is None and key and repository is not None:
            prefix, number = split_key(key)
            last = SandboxKeyNumber.objects.filter(repository=repository, prefix=prefix).values_list("last", flat=True)
            if prefix and number <= (last.first() or 0):
                self.add_error(
                    "key",
                    f"{key} was handed out before (keys of {prefix} are numbered up to {last.first()}, and a "
                    f"number is never given twice): enter {prefix} alone to take the next one.",
                )
            cleaned["key"] = key
        return cleaned


@admin.register(SandboxArtifact)
class SandboxArtifactAdmin(admin.ModelAdmin):
    """The sandbox tracker's own UI: edit an artifact here and the engine picks the
    change up (saving bumps its version). A key is given once and never changes."""

    form = SandboxArtifactForm
    formfield_overrides = FORMFIELD_OVERRIDES
    list_display = ["key", "repository", "title", "version", "updated_at"]
    list_filter = ["repository"]
    list_select_related = ["repository"]
    search_fields = ["key"]
    readonly_fields = ["version", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "repository", "key"] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        with transaction.atomic():
            prefix, number = split_key(obj.key)
            if prefix:
                SandboxKeyNumber.raise_to(obj.repository_id, prefix, number)
            else:
                obj.key = f"{obj.key}-{SandboxKeyNumber.take(obj.repository_id, obj.key)}"
            super().save_model(request, obj, form, change)

    @admin.display(description="title")
    def title(self, obj: SandboxArtifact) -> str:
        return Truncator(obj.fields.get("title", "")).chars(80)
