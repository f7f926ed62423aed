"""The Syncs tab, the sync detail page, the actions, the operation page, and the
Mappings and Logs tabs.
Views parse input, call one function (the filters, operations.py), and render."""

import hashlib
import json

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import preferences
from accounts.models import PER_PAGE_CHOICES
from accounts.roles import RUN_ACTIONS_PERMISSION, VIEW_PERMISSION, can_run_actions
from synchronizations import exports, operations, rescans
from synchronizations.engine import fieldmap, merge
from synchronizations.filters import LogFilter, SyncFilter
from synchronizations.forms import ConfirmedSelectionForm, SyncActionForm
from synchronizations.models import (
    DEFAULT_SYNC_ORDER,
    REPROCESS_LEAVES,
    SYNC_ORDERS,
    LogCursor,
    LogEntry,
    Mapping,
    Operation,
    SyncCount,
    SyncCursor,
    Synchronization,
    SyncOrder,
    SyncStatus,
)
from synchronizations.tables import SyncTable
from syncweb.inputs import parse_int

LOG_PER_PAGE = 50
# The Logs tab's export button counts the entries it will export up to this many
# (a bounded COUNT, asked for after the page shows); beyond, it says "more than".
LOG_EXPORT_COUNT_LIMIT = 10_000
MAX_PAGE = 1_000_000
# What the Syncs table shows (and sorts by); the other columns are not loaded.
TABLE_FIELDS = (
    "status", "mapping__name", "left_key", "left_url", "right_key", "right_url", "title", "last_processed_at",
    "error_message",
)  # fmt: skip


def _page_number(request: HttpRequest, problems: list[str]) -> int:
    raw = request.GET.get("page", "1")
    page = parse_int(raw, minimum=1, maximum=MAX_PAGE)
    if page is not None:
        return page
    problems.append(f"The page {raw!r} was ignored: it is not a page number. Showing page 1.")
    return 1


def _per_page(request: HttpRequest, problems: list[str]) -> int:
    """Rows per page: ``per_page`` from the URL when it is one of PER_PAGE_CHOICES
    (and then remembered as the user's preference), else the preference."""
    remembered = preferences.get(request).per_page
    raw = request.GET.get("per_page")
    if raw is None or raw == "":
        return remembered
    wanted = parse_int(raw, minimum=1, maximum=max(PER_PAGE_CHOICES))
    if wanted not in PER_PAGE_CHOICES:
        choices = ", ".join(map(str, PER_PAGE_CHOICES))
        problems.append(f"The rows per page {raw!r} was ignored: choose one of {choices}. Showing {remembered}.")
        return remembered
    if wanted != remembered:
        preferences.save(request, per_page=wanted)
    return wanted


def _sync_order(request: HttpRequest, problems: list[str]) -> SyncOrder:
    raw = request.GET.get("sort", "")
    if raw and raw not in SYNC_ORDERS:
        problems.append(f"The sort {raw!r} was ignored: it is not a column of the table. Showing the default order.")
    return SYNC_ORDERS.get(raw, DEFAULT_SYNC_ORDER)


def _sync_cursors(request: HttpRequest, order: SyncOrder, problems: list[str]) -> dict:
    """The page asked for: ``after`` (the next pages) or ``before`` (the previous
    ones) a position, as SynchronizationQuerySet.page() takes them; the first page
    for a position this page did not make. An old ``page`` number is ignored."""
    raw_page = request.GET.get("page")
    if raw_page not in (None, "", "1"):
        problems.append(
            f"The page {raw_page!r} was ignored: the list pages by position (First, Previous, Next), "
            "not by number. Showing the first page."
        )
    for name in ("after", "before"):
        raw = request.GET.get(name)
        if not raw:
            continue
        cursor = SyncCursor.parse(raw, order)
        if cursor is not None:
            return {name: cursor}
        problems.append(f"The page position {raw!r} was ignored: it is not one this page made. Showing the first page.")
        break
    return {}


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def sync_list(request: HttpRequest) -> HttpResponse:
    """The Syncs tab: the filtered syncs, a page at a time by keyset in the order
    of the sorted column; with ``export=csv``, all of them as a streamed CSV."""
    filterset = SyncFilter(request.GET, queryset=Synchronization.objects.select_related("mapping").only(*TABLE_FIELDS))
    problems = filterset.problems()
    order = _sync_order(request, problems)
    export = request.GET.get("export")
    if export == "csv":
        rows = exports.absolute_urls(request, exports.sync_rows(filterset.qs, order))
        return exports.streamed("syncs", exports.SYNC_COLUMNS, rows)
    if export:
        problems.append(f"The export {export!r} was ignored: the list exports as csv only.")
    counts = filterset.status_counts()
    total = sum(counts.values())
    status = filterset.valid_data().get("status")
    can_act = can_run_actions(request.user)
    per_page = _per_page(request, problems)
    page = filterset.qs.page(order, per_page, **_sync_cursors(request, order, problems))
    table = SyncTable(page.rows, order_by=order.name, exclude=() if can_act else ("select",))
    table.set_keyset(page)
    status_links = [
        {**link, "active": link["value"] == (status or "")}
        for link in [{"value": "", "label": "All", "count": total}, *SyncStatus.tally(counts)]
    ]
    return render(
        request,
        "synchronizations/sync_list.html",
        {
            "filter": filterset,
            "table": table,
            "sync_page": page,
            "next_position": table.next_position,
            "previous_position": table.previous_position,
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            "status_links": status_links,
            "matching": counts.get(status, 0) if status else total,
            "problems": problems,
            "can_act": can_act,
        },
    )


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def sync_detail(request: HttpRequest, pk: int) -> HttpResponse:
    sync = get_object_or_404(Synchronization.objects.select_related("mapping__left", "mapping__right"), pk=pk)
    logs = LogEntry.objects.filter(sync=sync).newest_first()
    paginator = Paginator(logs, LOG_PER_PAGE)
    problems: list[str] = []
    page = paginator.get_page(_page_number(request, problems))
    return render(
        request,
        "synchronizations/sync_detail.html",
        {
            "sync": sync,
            "logs": page,
            "problems": problems,
            "can_act": can_run_actions(request.user),
            "conflicts": _conflicts(sync),
            "conflict_digest": conflict_digest(_conflicts(sync)),
            "deleted": _deleted(sync),
        },
    )


def _conflicts(sync: Synchronization) -> list[dict]:
    """The conflicting fields of a sync in conflict, as the page shows them: rule
    number, the field on each side and both values ([] when not in conflict)."""
    context = sync.error_context or {}
    if sync.status != SyncStatus.ERROR or context.get("kind") != "conflict":
        return []
    return [entry for entry in context.get("fields", []) if isinstance(entry, dict)]


def conflict_digest(conflicts: list[dict]) -> str:
    """A digest of the conflicting fields and their values as the page shows them
    (hex SHA-256): the Resolve form carries it, so that a choice made on a page the
    conflict has changed since (other fields, other values) is refused, never
    applied to a field the operator did not see."""
    shown = [[entry.get("rule"), entry.get("left_value"), entry.get("right_value")] for entry in conflicts]
    return hashlib.sha256(json.dumps(shown, sort_keys=True, default=str).encode()).hexdigest()


def _deleted(sync: Synchronization) -> dict | None:
    """Which artifact of the sync was deleted, with the other side's repository
    (None unless the sync is in error, or unlinked, because of a deletion)."""
    context = sync.error_context or {}
    if context.get("kind") != "deleted" or sync.status not in (SyncStatus.ERROR, SyncStatus.IGNORED):
        return None
    side = context.get("side")
    remaining = "" if side == "both" else (sync.mapping.right if side == "left" else sync.mapping.left).name
    return {**context, "remaining": remaining, "unlinked": sync.status == SyncStatus.IGNORED}


@permission_required(RUN_ACTIONS_PERMISSION, raise_exception=True)
@require_POST
def sync_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    """Resolve a conflict: the side to keep for each conflicting field, posted as
    ``choice_<n>=left|right`` for the n-th conflicting field as the page listed it,
    with ``conflict`` = conflict_digest() of what the page listed (a page the
    conflict has changed since is refused);
    recorded as an Operation (its choices keyed by the rule's fields, so that a
    reordered field map changes nothing) and applied by the next processing. A
    missing or unknown choice is refused and nothing changes."""
    sync = get_object_or_404(Synchronization, pk=pk)
    conflicts = _conflicts(sync)
    if not conflicts:
        messages.error(request, f"Sync {pk} is not in conflict (any more); nothing was changed.")
        return redirect(sync_detail, pk=pk)
    if request.POST.get("conflict", "") != conflict_digest(conflicts):
        messages.error(
            request,
            "The conflict changed since the page was shown (other fields or other values): look at it again and "
            "choose; nothing was changed.",
        )
        return redirect(sync_detail, pk=pk)
    choices = {str(entry.get("rule")): request.POST.get(f"choice_{index}", "") for index, entry in enumerate(conflicts)}
    unchosen = [merge.describe_key(rule) for rule, side in choices.items() if side not in ("left", "right")]
    if unchosen:
        fields = ", ".join(unchosen)
        messages.error(request, f"Choose the left or the right value for every field ({fields}); nothing was changed.")
        return redirect(sync_detail, pk=pk)
    try:
        operation = operations.submit(
            Operation.Action.RESOLVE, operations.select_ids([pk]), user=request.user, parameters={"choices": choices}
        )
    except operations.ActionRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(sync_detail, pk=pk)
    messages.success(request, f"Resolve conflict: operation #{operation.pk} submitted; the sync is processed again.")
    return redirect(sync_detail, pk=pk)


@permission_required(RUN_ACTIONS_PERMISSION, raise_exception=True)
@require_POST
def sync_actions(request: HttpRequest) -> HttpResponse:
    """Retry / Clear Errors / Clear Errors and Ignore Changes on the selected syncs,
    or on every sync matching the filters ("select all matching"): SyncActionForm
    says on which, operations.py decides whether to confirm first and acts."""
    back = request.POST.get("next", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""  # only a page of this site
    form = SyncActionForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.refusal())
        return redirect(back or "syncs")
    selection = form.cleaned_data["selection"]
    if operations.needs_confirmation(selection, all_matching=form.all_matching) and not form.confirmed_as_shown:
        return render(
            request,
            "synchronizations/confirm_action.html",
            {
                "form": form,
                "selection": selection,
                "changed_from": form.shown_count if form.cleaned_data["confirmed"] else None,
                "post": request.POST,
                "back": back or form.list_url(),
            },
        )
    try:
        operation = operations.submit(form.cleaned_data["action"], selection, user=request.user)
    except operations.ActionRefused as refusal:  # the set changed since the form checked it
        messages.error(request, str(refusal))
        return redirect(back or "syncs")
    if selection.unknown:
        shown = ", ".join(map(str, selection.unknown[:10]))
        messages.warning(request, f"{len(selection.unknown)} selected id(s) match no sync and were left out: {shown}.")
    if operation.dispatched_at is None:
        messages.warning(
            request,
            f"{form.label}: operation #{operation.pk} on {operation.total} sync(s) is recorded, but the job queue "
            "(Redis) does not answer: it will run as soon as the queue is back.",
        )
    else:
        messages.success(request, f"{form.label}: operation #{operation.pk} on {operation.total} sync(s) submitted.")
    return redirect(back or operation)


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def operation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    operation = get_object_or_404(Operation.objects.select_related("requested_by"), pk=pk)
    template = "synchronizations/_operation_progress.html" if request.headers.get("HX-Request") else None
    return render(request, template or "synchronizations/operation_detail.html", {"operation": operation})


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def mapping_list(request: HttpRequest) -> HttpResponse:
    counts = SyncCount.objects.by_mapping()
    mappings = list(Mapping.objects.select_related("left", "right"))
    for mapping in mappings:
        mapping.counts = SyncStatus.tally(counts.get(mapping.pk, {}))
    return render(request, "synchronizations/mapping_list.html", {"mappings": mappings, "statuses": SyncStatus.choices})


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def mapping_detail(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = get_object_or_404(Mapping.objects.select_related("left", "right"), pk=pk)
    now = timezone.now()
    next_full_scan_at = mapping.next_full_scan_at(now)
    return render(
        request,
        "synchronizations/mapping_detail.html",
        {
            "mapping": mapping,
            "rules": fieldmap.describe(mapping.field_map),
            "counts": SyncStatus.tally(SyncCount.objects.filter(mapping=mapping).by_status()),
            "can_edit": request.user.is_staff and request.user.has_perm("synchronizations.change_mapping"),
            "can_act": can_run_actions(request.user),
            "next_full_scan_at": next_full_scan_at,
            "full_scan_due": next_full_scan_at is not None and next_full_scan_at <= now,
        },
    )


@permission_required(RUN_ACTIONS_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def mapping_reprocess(request: HttpRequest, pk: int) -> HttpResponse:
    """Process all artifacts of a mapping: GET asks, with the number of syncs it will
    put back to pending; POST, with what that page showed (ConfirmedSelectionForm),
    submits the Operation, or asks again when the set changed meanwhile. A mapping
    with nothing to process is refused, changing nothing."""
    mapping = get_object_or_404(Mapping, pk=pk)
    form = ConfirmedSelectionForm(request.POST if request.method == "POST" else None)
    if form.is_bound and not form.is_valid():
        messages.error(request, form.refusal())
        return redirect("mapping_reprocess", pk=mapping.pk)
    shown = form.cleaned_data if form.is_bound else {}
    selection = operations.select_for_reprocess([mapping.pk], max_id=shown.get("max_id"))
    if not selection.ids:
        messages.error(
            request,
            f"'{mapping.name}' has no sync to process: every one is being processed or ignored (ignored syncs stay "
            "ignored; retry them from the Syncs tab). Nothing was changed.",
        )
        return redirect(mapping_detail, pk=mapping.pk)
    if not form.confirms(selection):
        left_alone = SyncCount.objects.filter(mapping=mapping).by_status()
        return render(
            request,
            "synchronizations/confirm_reprocess.html",
            {
                "mapping": mapping,
                "selection": selection,
                "changed_from": shown.get("count"),
                "left_alone": [(SyncStatus(status).label, left_alone.get(status, 0)) for status in REPROCESS_LEAVES],
            },
        )
    operation = operations.submit(Operation.Action.REPROCESS, selection, user=request.user)
    label = Operation.Action.REPROCESS.label
    if operation.dispatched_at is None:
        messages.warning(
            request,
            f"{label}: operation #{operation.pk} on {operation.total} sync(s) is recorded, but the job queue "
            "(Redis) does not answer: it will run as soon as the queue is back.",
        )
    else:
        messages.success(request, f"{label}: operation #{operation.pk} on {operation.total} sync(s) submitted.")
    return redirect(operation)


@permission_required(RUN_ACTIONS_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def mapping_rescan(request: HttpRequest, pk: int) -> HttpResponse:
    """Full rescan of a mapping: GET says what it does and asks; POST requests it
    (rescans.request) and says whether change detection runs now or waits."""
    mapping = get_object_or_404(Mapping.objects.select_related("left", "right"), pk=pk)
    if request.method != "POST":
        return render(request, "synchronizations/confirm_rescan.html", {"mapping": mapping})
    done = rescans.request(mapping, user=request.user)
    if done.queued:
        messages.success(request, f"Full rescan of '{mapping.name}' requested: change detection reads both sides now.")
    else:
        messages.warning(
            request,
            f"Full rescan of '{mapping.name}' requested; it runs at the mapping's next change detection, which "
            f"waits: {done.waits}.",
        )
    return redirect(mapping_detail, pk=mapping.pk)


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def log_list(request: HttpRequest) -> HttpResponse:
    """All log entries, newest first, by pages of the user's rows per page that
    follow a cursor (the last entry's time and id), so deep pages cost what the
    first one does and entries arriving meanwhile never shift a page. With
    ``export=csv``, every matching entry as a streamed CSV."""
    filterset = LogFilter(request.GET, queryset=LogEntry.objects.select_related("mapping"))
    problems = filterset.problems()
    export = request.GET.get("export")
    if export == "csv":
        return exports.streamed("logs", exports.LOG_COLUMNS, exports.log_rows(filterset.qs))
    if export == "count":  # the Export button's number, asked for by export_count.js after the page shows
        count = exports.count_up_to(filterset.qs, LOG_EXPORT_COUNT_LIMIT)
        return JsonResponse({"count": min(count, LOG_EXPORT_COUNT_LIMIT), "more": count > LOG_EXPORT_COUNT_LIMIT})
    if export:
        problems.append(f"The export {export!r} was ignored: the log exports as csv only.")
    cursor = LogCursor.parse(request.GET.get("before", ""))
    if cursor is None and request.GET.get("before"):
        raw = request.GET["before"]
        problems.append(f"The page position {raw!r} was ignored: it is not one this page made. Showing the newest.")
    per_page = _per_page(request, problems)
    page, following = filterset.qs.page(cursor, per_page)
    next_cursor = str(following) if following else ""
    return render(
        request,
        "synchronizations/log_list.html",
        {
            "filter": filterset,
            "entries": page,
            "next_cursor": next_cursor,
            "problems": problems,
            "notes": filterset.notes(),
            "paged": bool(cursor),
            "per_page": per_page,
            "per_page_choices": PER_PAGE_CHOICES,
            # All of them are on this page: the Export button can say how many at once.
            "export_count": None if following or cursor else len(page),
        },
    )
