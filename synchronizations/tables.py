"""The Syncs tab's table (django-tables2)."""

import django_tables2 as tables
from django.db.models import F, QuerySet
from django.urls import reverse
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django_tables2 import LazyPaginator
from django_tables2.rows import BoundRow, BoundRows

from synchronizations.models import Synchronization

ERROR_CHARS = 80  # an error message longer than this is cut, whole in its tooltip
STATUS_BADGES = {
    "ok": "text-bg-success",
    "pending": "text-bg-info",
    "processing": "text-bg-primary",
    "error": "text-bg-danger",
    "ignored": "text-bg-secondary",
}


def _artifact(key: str, url: str) -> str:
    if not key:
        return '<span class="text-body-secondary">not created yet</span>'
    if not url:
        return escape(key)
    return f'<a href="{escape(url)}" target="_blank" rel="noopener">{escape(key)}</a>'


def _row(sync: Synchronization, detail: str, with_select: bool) -> str:
    """One row of the Syncs table; every value from the database goes through escape()."""
    pk = sync.pk
    processed = localtime(sync.last_processed_at).strftime("%Y-%m-%d %H:%M") if sync.last_processed_at else "—"
    error = sync.error_message
    shown = error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…"
    select = (
        f'<td class="col-select"><input class="form-check-input row-select" type="checkbox" name="ids" '
        f'value="{pk}" aria-label="Select sync {pk}"></td>'
        if with_select
        else ""
    )
    return (
        f'<tr data-status="{escape(sync.status)}" data-id="{pk}">'
        f'<td class="col-info"><a href="{detail}{pk}/" aria-label="Details for sync {pk}" title="Details">'
        f'<i class="bi bi-info-circle"></i></a></td>'
        f'<td><span class="badge {STATUS_BADGES.get(sync.status, "text-bg-light")}">'
        f"{escape(sync.get_status_display())}</span></td>"
        f"<td>{escape(sync.mapping.name)}</td>"
        f"<td>{_artifact(sync.left_key, sync.left_url)}</td>"
        f"<td>{_artifact(sync.right_key, sync.right_url)}</td>"
        f"<td>{escape(sync.title) or '—'}</td>"
        f"<td>{processed}</td>"
        f'<td><span title="{escape(error)}">{escape(shown)}</span></td>'
        f"{select}</tr>"
    )


class _IdsThenRows:
    """A table's rows, sliced in two steps: the page's ids first (from an index only,
    so skipping 10,000 rows skips index entries rather than rows), then those rows."""

    def __init__(self, rows: BoundRows):
        self.table = rows.table
        self.queryset = rows.data.data

    def __getitem__(self, key: slice) -> list[BoundRow]:
        if not key.start:  # the first page: nothing to skip, one query
            return [BoundRow(record, table=self.table) for record in self.queryset[key]]
        ids = list(self.queryset.values_list("pk", flat=True)[key])
        records = self.queryset.order_by().in_bulk(ids)
        return [BoundRow(records[pk], table=self.table) for pk in ids if pk in records]


class IdsFirstPaginator(LazyPaginator):
    """django-tables2's LazyPaginator (no count), fetching a page ids first."""

    def __init__(self, object_list, per_page, **kwargs):
        if isinstance(object_list, BoundRows) and isinstance(object_list.data.data, QuerySet):
            object_list = _IdsThenRows(object_list)
        super().__init__(object_list, per_page, **kwargs)


class SyncTable(tables.Table):
    info = tables.Column(accessor="pk", verbose_name="", orderable=False, attrs={"th": {"class": "col-info"}})
    # Every order ends with the id, so that rows with equal values keep their place
    # from one page to the next.
    status = tables.Column(verbose_name="Status", order_by=("status", "-pk"))
    mapping = tables.Column(accessor="mapping__name", verbose_name="Mapping", order_by=("mapping__name", "-pk"))
    left = tables.Column(accessor="left_key", verbose_name="Left artifact", order_by=("left_key", "-pk"))
    right = tables.Column(accessor="right_key", verbose_name="Right artifact", order_by=("right_key", "-pk"))
    title = tables.Column(verbose_name="Title", order_by=("title", "-pk"))
    last_processed_at = tables.DateTimeColumn(verbose_name="Last processed", format="Y-m-d H:i")
    error_message = tables.Column(verbose_name="Error", orderable=False)
    select = tables.Column(
        accessor="pk",
        orderable=False,
        verbose_name=mark_safe(
            '<input class="form-check-input" type="checkbox" id="select-page" aria-label="Select all on this page">'
        ),
        attrs={"th": {"class": "col-select"}, "td": {"class": "col-select"}},
    )

    class Meta:
        model = Synchronization
        fields = ()
        sequence = (
            "info",
            "status",
            "mapping",
            "left",
            "right",
            "title",
            "last_processed_at",
            "error_message",
            "select",
        )
        order_by = ("-last_processed_at",)
        attrs = {"class": "table table-sm table-hover align-middle syncs-table"}
        empty_text = "No sync matches these filters."
        # Rendered from header_html() and body_html(): see body_html.
        template_name = "synchronizations/_sync_table.html"

    def header_html(self) -> str:
        """The header cells: each sortable column links to its next order (and page 1)."""
        cells = []
        params = self.request.GET.copy()
        params.pop(self.prefixed_page_field, None)
        for column in self.columns:
            label = conditional_escape(column.header)
            if column.orderable:
                params[self.prefixed_order_by_field] = column.order_by_alias.next
                label = f'<a href="?{escape(params.urlencode())}">{label}</a>'
            cells.append(f'<th {column.attrs["th"].as_html()} scope="col">{label}</th>')
        return mark_safe("".join(cells))  # noqa: S308  (labels and links escaped above)

    def body_html(self) -> str:
        """The page's rows, as one string. django-tables2 renders each cell through
        signature introspection and a template, about 1.5 ms a row, which was most
        of the page's time; this is the same markup at a few microseconds a cell."""
        with_select = "select" not in self.exclude
        detail = reverse("sync_detail", args=[0]).removesuffix("0/")
        rows = [_row(row.record, detail, with_select) for row in self.paginated_rows]
        if not rows:
            return format_html('<tr><td colspan="{}">{}</td></tr>', len(self.columns), self.empty_text)
        return mark_safe("".join(rows))  # noqa: S308  (every value in it is escaped by _row)

    def order_last_processed_at(self, queryset, is_descending):
        """Never-processed syncs last, whichever the direction; the id breaks ties."""
        field = F("last_processed_at")
        order = field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True)
        return queryset.order_by(order, "-pk" if is_descending else "pk"), True
