"""The filters of the Syncs tab and of the Logs tab. They live in the URL."""

import django_filters
from django.db.models import Q

from synchronizations.models import LogEntry, Mapping, SyncCount, Synchronization, SyncStatus
from synchronizations.search import search as search_syncs
from syncweb import zones
from syncweb.filters import BoundedIsoDateTimeFilter, ForgivingFilterSet, IdChoiceFilter, IdFilter


class SyncFilter(ForgivingFilterSet):
    status = django_filters.ChoiceFilter(choices=SyncStatus.choices, empty_label="All", label="status")
    mapping = IdChoiceFilter(queryset=Mapping.objects.only("pk", "name"), empty_label="All mappings", label="mapping")
    q = django_filters.CharFilter(method="search", label="search")
    # The dashboard's "most frequent errors" link to the syncs of one error pattern.
    pattern = django_filters.CharFilter(field_name="error_pattern", label="error pattern")

    class Meta:
        model = Synchronization
        fields = ["status", "mapping", "q", "pattern"]

    def search(self, queryset, name, value):
        """Title, either artifact key, or the error message contains the text
        (case-insensitive): synchronizations.search."""
        value = value.strip()
        return search_syncs(queryset, value) if value else queryset

    def status_counts(self) -> dict[str, int]:
        """Syncs per status under every valid filter but the status one: read from
        SyncCount when at most the mapping is chosen, else counted among the matches."""
        others = {name: value for name, value in self.valid_data().items() if name != "status"}
        if set(others) <= {"mapping"}:
            counts = SyncCount.objects.all()
            if "mapping" in others:
                counts = counts.filter(mapping=others["mapping"])
            return counts.by_status()
        return self.filter_ignoring("status").status_counts()


class LogFilter(ForgivingFilterSet):
    level = django_filters.ChoiceFilter(choices=LogEntry.Level.choices, empty_label="All levels", label="level")
    mapping = IdChoiceFilter(queryset=Mapping.objects.only("pk", "name"), empty_label="All mappings", label="mapping")
    sync = IdFilter(field_name="sync_id", label="sync")
    since = BoundedIsoDateTimeFilter(field_name="timestamp", lookup_expr="gte", label="since")
    until = BoundedIsoDateTimeFilter(field_name="timestamp", lookup_expr="lt", label="until")
    q = django_filters.CharFilter(method="search", label="search")

    class Meta:
        model = LogEntry
        fields = ["level", "mapping", "sync", "since", "until", "q"]

    def problems(self) -> list[str]:
        """The ignored filters, and a period that cannot hold anything: ``since``
        not before ``until`` (the list is then empty, and the page says why)."""
        problems = super().problems()
        chosen = self.valid_data()
        since, until = chosen.get("since"), chosen.get("until")
        if since and until and since >= until:
            problems.append(
                f"Since ({zones.text(since, seconds=True)}) is not before until ({zones.text(until, seconds=True)}): "
                "no entry can match. Swap them, or clear one."
            )
        return problems

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(message__icontains=value) | Q(actor__iexact=value))
