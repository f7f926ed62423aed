"""The Metrics tab: the period panel and totals (HTML), the chart data (JSON views
built on django-chartjs) and a CSV of the daily series.

Days and hours are those of the server's TIME_ZONE for everyone, whatever display
zone a user chose: the rollup is kept by the UTC hour, so a zone with a half-hour
offset (a user's Asia/Kathmandu) could not be cut into days from it. The page and
the CSV's file name say which zone that is."""

import csv
import functools

from chartjs.views.base import JSONView
from chartjs.views.lines import BaseLineChartView
from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_safe

from accounts.roles import VIEW_PERMISSION
from metrics import queries
from metrics.periods import PRESETS, ending, parse_period
from synchronizations.exports import BOM
from synchronizations.models import Mapping
from syncweb.inputs import parse_id


def in_server_zone(view):
    """``view`` run in the server's TIME_ZONE (the Metrics zone), not the user's."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        with timezone.override(settings.TIME_ZONE):
            return view(*args, **kwargs)

    return wrapped


def zone_for_file_name() -> str:
    """The Metrics zone as a file name part: "Europe-Berlin", "UTC"."""
    return settings.TIME_ZONE.replace("/", "-")


class MetricsRequest:
    """The period, the mapping filter and what was wrong with them, from the URL."""

    def __init__(self, request: HttpRequest):
        self.period, self.problems = parse_period(request.GET, timezone.localdate())
        self.mapping = None
        raw = request.GET.get("mapping", "")
        if raw:
            pk = parse_id(raw)
            self.mapping = Mapping.objects.filter(pk=pk).first() if pk else None
            if self.mapping is None:
                self.problems.append(f"The mapping {raw!r} does not exist; showing all mappings.")
        self.mapping_id = self.mapping.pk if self.mapping else None

    def query(self, **extra) -> str:
        params = {**self.period.as_params(), **({"mapping": self.mapping_id} if self.mapping_id else {}), **extra}
        return "&".join(f"{key}={value}" for key, value in params.items())


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
@in_server_zone
def metrics_page(request: HttpRequest) -> HttpResponse:
    wanted = MetricsRequest(request)
    period = wanted.period
    hours = queries.hourly(period, wanted.mapping_id)
    current = sum((counts for _, counts in hours), queries.Counts())
    previous = queries.totals(period.previous, wanted.mapping_id)
    cells = queries.grouped(hours)
    today = timezone.localdate()
    return render(
        request,
        "metrics/metrics.html",
        {
            "wanted": wanted,
            "period": period,
            "previous": period.previous,
            "comparison": queries.comparison(current, previous),
            "daily": queries.daily(hours, period),
            "grid": [
                (name, [cells.get((weekday, hour), queries.Counts()) for hour in range(24)])
                for weekday, name in enumerate(queries.WEEKDAYS, start=1)
            ],
            "hours": range(24),
            "mappings": Mapping.objects.only("pk", "name"),
            "presets": [(days, ending(today, days)) for days in PRESETS],
            "problems": wanted.problems,
            "zone": settings.TIME_ZONE,
        },
    )


@method_decorator(require_safe, name="dispatch")
class ChartData(PermissionRequiredMixin):
    """What both chart views share: the permission, and the period's hours."""

    permission_required = VIEW_PERMISSION
    raise_exception = True

    @in_server_zone
    def get(self, request, *args, **kwargs):
        self.wanted = MetricsRequest(request)
        self.hours = queries.hourly(self.wanted.period, self.wanted.mapping_id)
        return super().get(request, *args, **kwargs)


class DailyChartData(ChartData, BaseLineChartView):
    """Bar chart data: one label per day, datasets Total and Created."""

    def get_context_data(self, **kwargs):
        # Only the chart's data: not the view or URL arguments TemplateView would add.
        self.series = queries.daily(self.hours, self.wanted.period)
        return {"labels": self.get_labels(), "datasets": self.get_datasets()}

    def get_labels(self):
        return [day.isoformat() for day, _ in self.series]

    def get_providers(self):
        return ["Total", "Created"]

    def get_colors(self):
        return iter([(13, 110, 253), (25, 135, 84)])  # Bootstrap's blue and green

    def get_data(self):
        return [[counts.total for _, counts in self.series], [counts.created for _, counts in self.series]]


class GroupedChartData(ChartData, JSONView):
    """Bubble chart data: x = hour of day, y = ISO weekday, v = count, per dataset."""

    def get_context_data(self, **kwargs):
        cells = queries.grouped(self.hours)

        def points(measure):
            return [
                {"x": hour, "y": weekday, "v": value}
                for (weekday, hour), counts in sorted(cells.items())
                if (value := measure(counts))
            ]

        return {
            "weekdays": queries.WEEKDAYS,
            "datasets": [
                {"label": "Total", "data": points(lambda c: c.total)},
                {"label": "Created", "data": points(lambda c: c.created)},
            ],
        }


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
@in_server_zone
def daily_csv(request: HttpRequest) -> HttpResponse:
    """The daily series as CSV: a BOM first (for Excel, as every CSV of syncweb),
    the days those of TIME_ZONE, which the file name says."""
    wanted = MetricsRequest(request)
    period = wanted.period
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    name = f"syncs-{period.start}-to-{period.end}-{zone_for_file_name()}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response.write(BOM)
    writer = csv.writer(response)
    writer.writerow(["date", "created", "updated", "total"])
    for day, counts in queries.daily(queries.hourly(period, wanted.mapping_id), period):
        writer.writerow([day.isoformat(), counts.created, counts.updated, counts.total])
    return response
