from django.contrib import admin

from metrics.models import HourlyRollup, SyncEvent
from syncweb.admin import HistoryAdmin


@admin.register(SyncEvent)
class SyncEventAdmin(HistoryAdmin):
    list_display = ["occurred_at", "kind", "mapping", "sync_id"]
    list_filter = ["kind", "mapping"]
    list_select_related = ["mapping"]
    search_fields = ["sync__left_key", "sync__right_key"]
    date_hierarchy = "occurred_at"
    raw_id_fields = ["sync"]


@admin.register(HourlyRollup)
class HourlyRollupAdmin(HistoryAdmin):
    list_display = ["hour", "mapping", "created", "updated"]
    list_filter = ["mapping"]
    list_select_related = ["mapping"]
    date_hierarchy = "hour"
