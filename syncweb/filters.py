"""A FilterSet that forgives: a malformed value is ignored, and said so, instead
of failing the page."""

from datetime import UTC, datetime

import django_filters
from django import forms
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from syncweb import zones
from syncweb.inputs import parse_id


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

    def notes(self) -> list[str]:
        """What the page should say about how a valid value was read (e.g. a time that
        a daylight-saving change makes ambiguous: syncweb.zones), one per filter."""
        self.form.is_valid()
        return [
            f"{(self.filters[name].label or name).capitalize()}: {field.note}"
            for name, field in self.form.fields.items()
            if getattr(field, "note", "") and name not in self.form.errors
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


class IdChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField that takes only an id in ASCII digits within a database
    id's range (syncweb.inputs.parse_id): "١٢" or a 30-digit number is an invalid
    choice, not a lookup."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if parse_id(str(value)) is None:
            raise forms.ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdChoiceFilter(django_filters.ModelChoiceFilter):
    """A ModelChoiceFilter through IdChoiceField."""

    field_class = IdChoiceField


class IdField(forms.Field):
    """A database id in ASCII digits (syncweb.inputs.parse_id); anything else is invalid."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        parsed = parse_id(str(value))
        if parsed is None:
            raise forms.ValidationError("Enter a whole number from 1 (an id).", code="invalid")
        return parsed


class IdFilter(django_filters.Filter):
    """Filters a foreign key column by an id given as IdField accepts it."""

    field_class = IdField


# The times a filter accepts: the calendar the pages handle, whatever the offset.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 12, 31, tzinfo=UTC)


def usable_moment(moment: datetime | None) -> bool:
    """Whether ``moment`` (aware, or naive in the current time zone) lies between
    EARLIEST and LATEST once in UTC (an offset can push 0001-01-01 or 9999-12-31
    past what a date holds)."""
    if moment is None:
        return False
    try:
        aware = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
        return EARLIEST <= aware.astimezone(UTC) <= LATEST
    except (OverflowError, ValueError):
        return False


class BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    """An ISO 8601 time that lies between EARLIEST and LATEST. A time without an
    offset is in the current (display) zone; where a daylight-saving change makes
    it ambiguous or non-existent it is read by syncweb.zones' rule and ``note``
    says how (else it is "")."""

    note = ""

    def to_python(self, value):
        self.note = ""
        if value in self.empty_values:
            return None
        try:
            moment = parse_datetime(str(value).strip())
            if moment is not None and timezone.is_naive(moment):
                moment, self.note = zones.resolve(moment, timezone.get_current_timezone())
        except (OverflowError, ValueError):
            raise forms.ValidationError("Enter a time that exists.", code="invalid") from None
        if moment is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if not usable_moment(moment):
            self.note = ""
            raise forms.ValidationError(f"Enter a time between {EARLIEST.year} and {LATEST.year}.", code="invalid")
        return moment


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An IsoDateTimeFilter through BoundedIsoDateTimeField."""

    field_class = BoundedIsoDateTimeField
