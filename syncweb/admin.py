from django.contrib import admin
from django.db import models

# Django 6 assumes https:// for a URL typed without a scheme; so do we, today.
URL_FIELD_OVERRIDES = {models.URLField: {"assume_scheme": "https"}}


class HistoryAdmin(admin.ModelAdmin):
    """Admin for history (logs, operations, events): it can be read, never edited."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
