"""The Syncs tab's table (django-tables2)."""

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from synchronizations.models import Synchronization

STATUS_BADGES = {
    "ok": "text-bg-success",
    "pending": "text-bg-info",
    "processing": "text-bg-primary",
    "error": "text-bg-danger",
    "ignored": "text-bg-secondary",
}


def status_badge(sync: Synchronization) -> str:
    return format_html(
        '<span class="badge {}">{}</span>', STATUS_BADGES.get(sync.status, "text-bg-light"), sync.get_status_display()
    )


def artifact_link(key: str, url: str) -> str:
    if not key:
        return format_html('<span class="text-body-secondary">{}</span>', "not created yet")
    if not url:
        return key
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, key)


class SyncTable(tables.Table):
    info = tables.Column(accessor="pk", verbose_name="", orderable=False, attrs={"th": {"class": "col-info"}})
    status = tables.Column(verbose_name="Status")
    mapping = tables.Column(accessor="mapping__name", verbose_name="Mapping", order_by=("mapping__name", "-pk"))
    left = tables.Column(accessor="left_key", verbose_name="Left artifact")
    right = tables.Column(accessor="right_key", verbose_name="Right artifact")
    title = tables.Column(verbose_name="Title")
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
        row_attrs = {"data-status": lambda record: record.status, "data-id": lambda record: record.pk}
        empty_text = "No sync matches these filters."

    def render_info(self, record):
        return format_html(
            '<a href="{}" aria-label="Details for sync {}" title="Details"><i class="bi bi-info-circle"></i></a>',
            reverse("sync_detail", args=[record.pk]),
            record.pk,
        )

    def render_status(self, record):
        return status_badge(record)

    def render_left(self, record):
        return artifact_link(record.left_key, record.left_url)

    def render_right(self, record):
        return artifact_link(record.right_key, record.right_url)

    def render_error_message(self, value):
        return format_html('<span title="{}">{}</span>', value, Truncator(value).chars(80))

    def render_select(self, record):
        return format_html(
            '<input class="form-check-input row-select" type="checkbox" name="ids" value="{0}" aria-label="{1} {0}">',
            record.pk,
            "Select sync",
        )

    def order_last_processed_at(self, queryset, is_descending):
        """Never-processed syncs last, whichever the direction; the id breaks ties."""
        field = F("last_processed_at")
        order = field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True)
        return queryset.order_by(order, "-pk" if is_descending else "pk"), True
