"""The Syncs tab's table (django-tables2): its columns, their orders, and how a
page of it is read. django-tables2 sorts it from the URL and pages it (the view
uses its LazyPaginator: no COUNT); the markup is templates/synchronizations/
_sync_table.html and _sync_row.html."""

import django_tables2 as tables
from django.db.models import F, QuerySet
from django_tables2.data import TableQuerysetData

from synchronizations.models import Synchronization


class IdsFirstData(TableQuerysetData):
    """The table's queryset, read a page at a time in two steps: the page's ids
    first (from an index only, so skipping 10,000 rows skips index entries rather
    than rows), then those rows. The first page has nothing to skip: one query."""

    def __getitem__(self, key: int | slice):
        if not isinstance(key, slice) or not key.start:
            return super().__getitem__(key)
        ids = list(self.data.values_list("pk", flat=True)[key])
        records = self.data.order_by().in_bulk(ids)
        return [records[pk] for pk in ids if pk in records]


class SyncTable(tables.Table):
    info = tables.Column(verbose_name="", orderable=False, attrs={"th": {"class": "col-info"}})
    # Every order ends with the id, so that rows with equal values keep their place
    # from one page to the next.
    status = tables.Column(verbose_name="Status", order_by=("status", "-pk"))
    mapping = tables.Column(verbose_name="Mapping", order_by=("mapping__name", "-pk"))
    left = tables.Column(verbose_name="Left artifact", order_by=("left_key", "-pk"))
    right = tables.Column(verbose_name="Right artifact", order_by=("right_key", "-pk"))
    title = tables.Column(verbose_name="Title", order_by=("title", "-pk"))
    last_processed_at = tables.Column(verbose_name="Last processed")  # ordered by order_last_processed_at
    error_message = tables.Column(verbose_name="Error", orderable=False)
    # Shown to those who may act; its header is the "Select all on this page" checkbox.
    select = tables.Column(verbose_name="", orderable=False, attrs={"th": {"class": "col-select"}})

    class Meta:
        order_by = ("-last_processed_at",)
        attrs = {"class": "table table-sm table-hover align-middle syncs-table"}
        empty_text = "No sync matches these filters."
        template_name = "synchronizations/_sync_table.html"

    def __init__(self, data: QuerySet[Synchronization], **kwargs):
        super().__init__(IdsFirstData(data), **kwargs)

    @property
    def selectable(self) -> bool:
        """Whether the rows have a checkbox: the select column is left out for those who may not act."""
        return "select" not in self.exclude

    def order_last_processed_at(self, queryset, is_descending):
        """Never-processed syncs last, whichever the direction; the id breaks ties."""
        field = F("last_processed_at")
        order = field.desc(nulls_last=True) if is_descending else field.asc(nulls_last=True)
        return queryset.order_by(order, "-pk" if is_descending else "pk"), True
