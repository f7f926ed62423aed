"""The Syncs tab's table (django-tables2): its columns and their sort links. The
page's rows come already sorted and cut from SynchronizationQuerySet.page() (keyset
paging in one of SYNC_ORDERS), so the table neither sorts nor pages them; the
markup is templates/synchronizations/_sync_table.html and _sync_row.html."""

import django_tables2 as tables
from django_tables2.data import TableListData

from synchronizations.models import Synchronization


class KeysetPageData(TableListData):
    """One page of syncs, in the order the query gave them: sorting it is the
    database's job (SynchronizationQuerySet.page), so order_by() keeps it as it is."""

    def order_by(self, aliases) -> None:
        """Nothing to do: the rows are already in this order."""


class SyncTable(tables.Table):
    info = tables.Column(verbose_name="", orderable=False, attrs={"th": {"class": "col-info"}})
    # Each sortable column's orders are SYNC_ORDERS[name] and SYNC_ORDERS["-" + name]
    # (tests/test_syncs_list.py checks that the two lists agree).
    status = tables.Column(verbose_name="Status")
    mapping = tables.Column(verbose_name="Mapping")
    left = tables.Column(verbose_name="Left artifact")
    right = tables.Column(verbose_name="Right artifact")
    title = tables.Column(verbose_name="Title")
    last_processed_at = tables.Column(verbose_name="Last processed")
    error_message = tables.Column(verbose_name="Error", orderable=False)
    # Shown to those who may act; its header is the "Select all on this page" checkbox.
    select = tables.Column(verbose_name="", orderable=False, attrs={"th": {"class": "col-select"}})

    class Meta:
        order_by = ("-last_processed_at",)
        attrs = {"class": "table table-sm table-hover align-middle syncs-table"}
        empty_text = "No sync matches these filters."
        template_name = "synchronizations/_sync_table.html"

    def __init__(self, rows: list[Synchronization], **kwargs):
        super().__init__(KeysetPageData(rows), **kwargs)

    keyset = None
    next_position = previous_position = ""

    def set_keyset(self, page) -> None:
        """The page these rows are (a SyncPage): its template draws First, Previous
        and Next from it (render_table passes the table alone to the template)."""
        self.keyset = page
        self.next_position = str(page.next) if page.next else ""
        self.previous_position = str(page.previous) if page.previous else ""

    @property
    def selectable(self) -> bool:
        """Whether the rows have a checkbox: the select column is left out for those who may not act."""
        return "select" not in self.exclude

    @classmethod
    def sorts(cls) -> set[str]:
        """The URL's ``sort`` values the column headers offer."""
        names = [name for name, column in cls.base_columns.items() if column.orderable is not False]
        return {sort for name in names for sort in (name, f"-{name}")}
