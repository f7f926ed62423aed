import math
from datetime import date

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpResponseRedirect

from syncweb.inputs import parse_int

# The deepest nesting a JSON value typed into the admin may have: a field map or a
# repository's settings are a few levels deep.
JSON_MAX_DEPTH = 32


class BoundedJSONField(forms.JSONField):
    """Django's JSON form field, refusing a value nested deeper than JSON_MAX_DEPTH
    levels with a message: Django's own answers HTTP 500 (RecursionError) for a
    2 KB text of 1,000 nested brackets."""

    def to_python(self, value):
        try:
            parsed = super().to_python(value)
        except RecursionError:
            parsed = None
        else:
            if _depth(parsed) <= JSON_MAX_DEPTH:
                if not _finite(parsed):
                    # Python's json reads NaN, Infinity and 1e309 (inf); no database
                    # stores them as JSON (SQLite's JSON_VALID check fails: HTTP 500).
                    raise ValidationError(
                        "JSON has no NaN or Infinity, and numbers must fit a double (at most about 1.8e308).",
                        code="not_finite",
                    )
                return parsed
        raise ValidationError(f"This JSON is nested too deeply: at most {JSON_MAX_DEPTH} levels.", code="too_deep")

    def bound_data(self, data, initial):
        """The value to show again in the form: as typed, when it nests too deeply."""
        try:
            bound = super().bound_data(data, initial)
        except RecursionError:
            return forms.fields.InvalidJSONInput(data)
        return bound if _depth(bound) <= JSON_MAX_DEPTH else forms.fields.InvalidJSONInput(data)

    def has_changed(self, initial, data):
        try:
            return super().has_changed(initial, data)
        except RecursionError:
            return True


def _finite(value) -> bool:
    """Whether every number in ``value`` (parsed JSON, at most JSON_MAX_DEPTH deep)
    is finite: no NaN, Infinity or overflowed float."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _depth(value) -> int:
    """How deeply ``value`` (parsed JSON) nests lists and objects; 0 for a scalar.
    Iterative, so that any depth is measured without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


# For every ModelAdmin: Django 6 assumes https:// for a URL typed without a scheme
# (so do we, today); JSON is bounded (tests/test_bad_input.py checks that every
# admin with an editable JSON field uses these).
FORMFIELD_OVERRIDES = {
    models.URLField: {"assume_scheme": "https"},
    models.JSONField: {"form_class": BoundedJSONField},
}


class SafeDateHierarchyMixin:
    """A changelist whose date drill-down (``date_hierarchy``) takes only a day that
    exists between 1970 and 9000: Django's own answers HTTP 500 for a year of 20
    digits or for 9999-12-31 (the next day does not exist). Anything else is dropped
    from the URL, saying so."""

    def changelist_view(self, request, extra_context=None):
        field = getattr(self, "date_hierarchy", None)
        if field:
            bounds = {"year": (1970, 9000), "month": (1, 12), "day": (1, 31)}
            given = {part: request.GET.get(f"{field}__{part}") for part in bounds}
            parsed = {
                part: parse_int(raw, minimum=bounds[part][0], maximum=bounds[part][1])
                for part, raw in given.items()
                if raw is not None
            }
            valid = None not in parsed.values()
            if valid and parsed:
                try:
                    date(parsed.get("year", 2000), parsed.get("month", 1), parsed.get("day", 1))
                except ValueError:
                    valid = False
            if not valid:
                query = request.GET.copy()
                for part in bounds:
                    query.pop(f"{field}__{part}", None)
                self.message_user(
                    request, "That date does not exist (or is outside 1970–9000); showing all dates.", messages.WARNING
                )
                return HttpResponseRedirect(f"{request.path}?{query.urlencode()}" if query else request.path)
        return super().changelist_view(request, extra_context)


class HistoryAdmin(SafeDateHierarchyMixin, admin.ModelAdmin):
    """Admin for history (logs, operations, events): it can be read, never edited."""

    formfield_overrides = FORMFIELD_OVERRIDES

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
