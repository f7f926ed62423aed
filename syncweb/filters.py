"""A FilterSet that forgives: a malformed value is ignored, and said so, instead
of failing the page."""

import django_filters


class ForgivingFilterSet(django_filters.FilterSet):
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
        return [
            f"The {self.filters[name].label or name} filter {self.data.get(name)!r} was ignored: {' '.join(errors)}"
            for name, errors in self.form.errors.items()
        ]

    def filter_ignoring(self, name: str):
        """The queryset with every valid filter but ``name`` (e.g. for counts per status)."""
        queryset = self.queryset
        for filter_name, value in self.valid_data().items():
            if filter_name != name:
                queryset = self.filters[filter_name].filter(queryset, value)
        return queryset

    @property
    def qs(self):
        """Filtered by the valid values only."""
        if not hasattr(self, "_valid_qs"):
            self._valid_qs = self.filter_ignoring("")
        return self._valid_qs
