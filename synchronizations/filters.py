"""The Syncs tab's filters: status, mapping and a text search. They live in the URL."""

import django_filters
from django.db.models import Q

from synchronizations.models import Mapping, Synchronization, SyncStatus


class SyncFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=SyncStatus.choices, empty_label="All")
    mapping = django_filters.ModelChoiceFilter(queryset=Mapping.objects.all(), empty_label="All mappings")
    q = django_filters.CharFilter(method="search", label="Search")

    class Meta:
        model = Synchronization
        fields = ["status", "mapping", "q"]

    def search(self, queryset, name, value):
        """Title, either artifact key, or the error message contains the text."""
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(title__icontains=value)
            | Q(left_key__icontains=value)
            | Q(right_key__icontains=value)
            | Q(error_message__icontains=value)
        )

    def filter_ignoring(self, name: str):
        """The queryset with every valid filter but ``name`` (for the status counts)."""
        queryset = self.queryset
        for filter_name, value in self.valid_data().items():
            if filter_name != name:
                queryset = self.filters[filter_name].filter(queryset, value)
        return queryset

    def valid_data(self) -> dict:
        """The cleaned value of each filter that was given and is valid."""
        self.form.is_valid()
        return {
            name: value
            for name, value in self.form.cleaned_data.items()
            if name not in self.form.errors and value not in (None, "")
        }

    def problems(self) -> list[str]:
        """What was wrong with the filters in the URL, for the page to say (each is ignored)."""
        problems = []
        for name, errors in self.form.errors.items():
            given = self.data.get(name)
            problems.append(f"The {name} filter {given!r} was ignored: {' '.join(errors)}")
        return problems

    @property
    def qs(self):
        """Filters by the valid values only; an invalid one is ignored (and reported)."""
        if not hasattr(self, "_valid_qs"):
            queryset = self.queryset
            for name, value in self.valid_data().items():
                queryset = self.filters[name].filter(queryset, value)
            self._valid_qs = queryset
        return self._valid_qs
