from datetime import date

from django.contrib import admin, messages
from django.db import models
from django.http import HttpResponseRedirect

from syncweb.inputs import parse_int

# Django 6 assumes https:// for a URL typed without a scheme; so do we, today.
URL_FIELD_OVERRIDES = {models.URLField: {"assume_scheme": "https"}}


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

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
