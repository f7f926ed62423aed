"""The JSON API's endpoints (/sync/api/v1/). Each parses its input (serializers,
the console's FilterSets made strict), calls the function the console calls
(operations.py, the querysets, syncweb.dashboard, metrics.queries) and answers.
Bad input is a 400 problem naming the parameter (api/problems.py)."""

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from alerts.models import dashboard_alerts
from api import examples as ex
from api import serializers as s
from api.pagination import IdPagination, LogPagination, SyncPagination
from api.permissions import CanRunActions
from api.problems import ActionRefused, InvalidParameters, page_not_found
from api.schema import LOG_PARAMETERS, METRICS_PARAMETERS, QUERY_PARAMETERS
from metrics import queries
from metrics.periods import parse_period
from metrics.views import in_server_zone
from synchronizations import operations
from synchronizations.filters import LogFilter, SyncFilter
from synchronizations.models import (
    SYNC_ORDERS,
    LogEntry,
    Mapping,
    Operation,
    Repository,
    SyncCount,
    Synchronization,
)
from syncweb import dashboard
from syncweb.inputs import parse_id


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend over the console's FilterSets, but a filter value
    that is not valid is a 400 naming the parameter (the console ignores it and
    says so; a script must know)."""

    def filter_queryset(self, request, queryset, view):
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            raise InvalidParameters(filterset.errors)
        return filterset.qs


def valid_query(serializer_class, request) -> dict:
    """The query string read by ``serializer_class``; raises InvalidParameters."""
    query = serializer_class(data=request.query_params)
    if not query.is_valid():
        raise InvalidParameters(query.errors)
    return query.validated_data


class NoOptions:
    """OPTIONS is not answered (DRF's metadata described the wrong serializer for
    the actions; DEFAULT_METADATA_CLASS is None): a 405 problem, and Allow does
    not list it."""

    http_method_names = [name for name in APIView.http_method_names if name != "options"]


class StrictQuery:
    """Refuses a query parameter the endpoint does not take (a misspelled filter
    would otherwise be ignored, and a script act on more than it meant), and an
    empty value of a parameter the schema types as a number, a time or a choice
    (``mapping=``: the schema says integer, so it is not "no filter"): a 400
    naming each. ``query_parameters`` maps an action ("list", "retrieve", a
    custom action's name; None for a plain APIView) to the parameters it takes;
    DRF's ``format`` is always allowed."""

    query_parameters: dict[str | None, tuple[str, ...]] = {}

    def initial(self, request, *args, **kwargs):
        """DRF's checks (authentication, permissions, rate), then the query's names."""
        super().initial(request, *args, **kwargs)
        taken = {"format", *self.query_parameters.get(getattr(self, "action", None), ())}
        unknown = [name for name in request.query_params if name not in taken]
        if unknown:
            takes = ", ".join(sorted(taken - {"format"}))
            message = f"Not a parameter of this endpoint, which takes {f'only: {takes}' if takes else 'none'}."
            raise InvalidParameters({name: [message] for name in unknown})
        documented = {**QUERY_PARAMETERS, **getattr(self, "parameter_docs", {})}
        empty = [
            name
            for name, values in request.query_params.lists()
            if "" in values and name in documented and not _free_text(documented[name])
        ]
        if empty:
            raise InvalidParameters({name: ["Empty: give a value, or leave the parameter out."] for name in empty})


def _free_text(parameter) -> bool:
    """Whether a documented query parameter takes any text, the empty one included."""
    return parameter.type is str and not parameter.enum


class ById:
    """get_object() for ids from the URL: anything that is not a database id
    (text, "²", a 30-digit number) is a 404, as no such object."""

    lookup_value_regex = "[^/]+"

    def get_object(self):
        pk = parse_id(self.kwargs.get(self.lookup_field, ""))
        found = self.filter_queryset_for_object().filter(pk=pk).first() if pk is not None else None
        if found is None:
            raise NotFound("No such object.")
        self.check_object_permissions(self.request, found)
        return found

    def filter_queryset_for_object(self):
        return self.get_queryset()


LIST_FILTERS = "Filters of the Syncs tab: status, mapping (id), q (text in the title, a key or the error message), "
LIST_FILTERS += "pattern (an error kind, as the Dashboard lists them). An invalid value is a 400 naming it."


@extend_schema_view(
    list=extend_schema(
        summary="List syncs",
        description="The Syncs tab's list, cursor-paginated (follow `next`), in one of the tab's orders. "
        + LIST_FILTERS,
        responses=OpenApiResponse(
            s.SyncSerializer(many=True),
            description="A page of syncs in the order asked for; `next` is the following page (null: the last).",
            examples=ex.example("A page of syncs in error", ex.SYNC),
        ),
    ),
    retrieve=extend_schema(
        summary="One sync",
        description="A sync with everything its page shows.",
        responses=OpenApiResponse(
            s.SyncDetailSerializer,
            description="The sync, with its error's detail and context, its retries and links to its log and page.",
            examples=ex.example("A sync in error", ex.SYNC_DETAIL),
        ),
    ),
)
class SyncViewSet(NoOptions, StrictQuery, ById, viewsets.ReadOnlyModelViewSet):
    """Syncs: the list with the Syncs tab's filters, one sync, its log, the counts
    per status, and the bulk actions."""

    serializer_class = s.SyncSerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = SyncFilter
    pagination_class = SyncPagination
    queryset = Synchronization.objects.select_related("mapping")
    query_parameters = {
        "list": (*SyncFilter.base_filters, "ordering", "cursor", "limit"),
        "counts": tuple(SyncFilter.base_filters),
        "log": ("cursor", "limit"),
    }

    def get_queryset(self):
        if self.action == "list":
            return Synchronization.objects.select_related("mapping").only(*s.SyncSerializer.COLUMNS)
        return Synchronization.objects.select_related("mapping")

    def get_serializer_class(self):
        return s.SyncDetailSerializer if self.action == "retrieve" else s.SyncSerializer

    def list(self, request, *args, **kwargs):
        self.order = SYNC_ORDERS[valid_query(s.SyncListQuerySerializer, request)["ordering"]]
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="A sync's log",
        description="The sync's log entries, newest first, cursor-paginated.",
        responses=OpenApiResponse(
            s.LogEntrySerializer(many=True),
            description="A page of the sync's log entries, newest first; `next` is the following page.",
            examples=ex.example("The sync's latest log entries", ex.LOG_ENTRY),
        ),
        filters=False,
    )
    @action(detail=True, url_path="log", pagination_class=LogPagination, filter_backends=[])
    def log(self, request, pk=None):
        sync = self.get_object()
        paginator = self.paginator
        page = paginator.paginate_queryset(LogEntry.objects.filter(sync_id=sync.pk), request, view=self)
        return paginator.get_paginated_response(s.LogEntrySerializer(page, many=True).data)

    @extend_schema(
        summary="Counts per status",
        description="How many syncs are in each status under the filters other than `status` (the Syncs tab's "
        "status links). " + LIST_FILTERS,
        responses=OpenApiResponse(
            s.StatusCountsSerializer,
            description="Syncs per status (every status present) and their total.",
            examples=ex.example("Counts of one mapping", {"counts": ex.COUNTS, "total": 10000}),
        ),
    )
    @action(detail=False, url_path="counts", pagination_class=None)
    def counts(self, request):
        filterset = SyncFilter(request.query_params, queryset=Synchronization.objects.all())
        if not filterset.is_valid():
            raise InvalidParameters(filterset.errors)
        counts = filterset.status_counts()
        return Response(s.StatusCountsSerializer({"counts": counts, "total": sum(counts.values())}).data)

    @extend_schema(
        summary="Act on syncs",
        description=(
            "Retry, Clear Errors, Clear Errors and Ignore Changes, Recreate or Unlink, on chosen ids or on every "
            "sync matching a filter, under the console's rules (synchronizations/operations.py). Answers 202 with "
            "the Operation, recorded and queued; poll its `url` for progress. With `dry_run`, answers how many syncs "
            "it would act on and changes nothing. A request that breaks a rule (e.g. Clear Errors on a sync not in "
            "error) is refused with 409 and changes nothing. Needs the Operator or Admin role."
        ),
        request=s.ActionRequestSerializer,
        responses={
            202: OpenApiResponse(
                s.ActionAcceptedSerializer,
                description="Recorded and queued: the Operation, and its `url` (also in Location) to poll.",
                examples=ex.example("Retry accepted", ex.ACCEPTED),
            ),
            200: OpenApiResponse(
                s.DryRunSerializer,
                description="The dry run's count (0 when nothing matches); nothing changed.",
                examples=ex.example("A dry run over a filter", ex.DRY_RUN),
            ),
        },
        filters=False,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="actions",
        permission_classes=[CanRunActions],
        filter_backends=[],
        pagination_class=None,
    )
    def actions(self, request):
        body = s.ActionRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "ids" in data:
            selection = operations.select_ids(data["ids"])
        else:
            filters = {name: str(value) for name, value in data["filter"].items() if value not in ("", None)}
            filterset = SyncFilter(filters, queryset=Synchronization.objects.all())
            if not filterset.is_valid():
                raise ValidationError({"filter": filterset.errors})
            selection = operations.select_matching(filterset.qs, filters, max_id=data.get("max_id"))
        try:
            if data["dry_run"]:
                if selection.ids:  # a dry run of an empty selection counts 0; the action itself refuses it
                    operations.check(data["action"], selection)
            else:
                operation = operations.submit(data["action"], selection, user=request.user, source=Operation.Source.API)
        except operations.ActionRefused as refusal:
            raise ActionRefused(str(refusal)) from None
        if data["dry_run"]:
            return Response(
                s.DryRunSerializer(
                    {
                        "action": data["action"],
                        "count": len(selection.ids),
                        "unknown_ids": [pk for pk in selection.unknown if isinstance(pk, int)],
                        "max_id": selection.max_id,
                        "confirmation_in_console": operations.needs_confirmation(
                            selection, all_matching="filter" in data
                        ),
                    }
                ).data
            )
        url = request.build_absolute_uri(reverse("api:operation-detail", args=[operation.pk]))
        answer = {"operation": operation, "url": url, "queued": operation.dispatched_at is not None}
        return Response(
            s.ActionAcceptedSerializer(answer, context={"request": request}).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": url},
        )


@extend_schema_view(
    list=extend_schema(
        summary="List operations",
        description="Operator actions, newest first, with progress.",
        responses=OpenApiResponse(
            s.OperationSerializer(many=True),
            description="A page of operations, newest first; `next` is the following page.",
            examples=ex.example("A running Retry", ex.OPERATION),
        ),
    ),
    retrieve=extend_schema(
        summary="One operation",
        description="An operation and its progress.",
        responses=OpenApiResponse(
            s.OperationSerializer,
            description="The operation, its state and progress.",
            examples=ex.example("A running Retry", ex.OPERATION),
        ),
    ),
)
class OperationViewSet(NoOptions, StrictQuery, ById, viewsets.ReadOnlyModelViewSet):
    """Operations (operator actions over sets of syncs), without their id lists."""

    query_parameters = {"list": ("cursor", "limit")}
    serializer_class = s.OperationSerializer
    pagination_class = IdPagination
    queryset = Operation.objects.select_related("requested_by").defer("sync_ids")


@extend_schema_view(
    list=extend_schema(
        summary="List mappings",
        description="Every mapping, with its counts per status.",
        responses=OpenApiResponse(
            s.MappingSerializer(many=True),
            description="Every mapping (not paginated).",
            examples=ex.example("Mappings", ex.MAPPING),
        ),
    ),
    retrieve=extend_schema(
        summary="One mapping",
        description="A mapping with its repositories, state and counts per status.",
        responses=OpenApiResponse(
            s.MappingSerializer, description="The mapping.", examples=ex.example("A mapping", ex.MAPPING)
        ),
    ),
)
class MappingViewSet(NoOptions, StrictQuery, ById, viewsets.ReadOnlyModelViewSet):
    """Mappings with their repositories, state and counts per status (SyncCount)."""

    serializer_class = s.MappingSerializer
    pagination_class = None
    queryset = Mapping.objects.select_related("left", "right")

    def get_serializer_context(self) -> dict:
        return {**super().get_serializer_context(), "counts": SyncCount.objects.by_mapping()}


@extend_schema_view(
    list=extend_schema(
        summary="List repositories",
        description="Every repository and its health.",
        responses=OpenApiResponse(
            s.RepositorySerializer(many=True),
            description="Every repository (not paginated); credentials are never shown.",
            examples=ex.example("Repositories", ex.REPOSITORY),
        ),
    ),
    retrieve=extend_schema(
        summary="One repository",
        description="A repository and its health.",
        responses=OpenApiResponse(
            s.RepositorySerializer, description="The repository.", examples=ex.example("A repository", ex.REPOSITORY)
        ),
    ),
)
class RepositoryViewSet(NoOptions, StrictQuery, ById, viewsets.ReadOnlyModelViewSet):
    """Repositories and their health (credentials are never shown)."""

    serializer_class = s.RepositorySerializer
    pagination_class = None
    queryset = Repository.objects.all()


@extend_schema_view(
    get=extend_schema(
        summary="List log entries",
        description="Every log entry, newest first, with the Logs tab's filters (level, mapping, sync, since, until, "
        "q), cursor-paginated.",
        responses=OpenApiResponse(
            s.LogEntrySerializer(many=True),
            description="A page of log entries, newest first; `next` is the following page (null: the last).",
            examples=ex.example("An error entry", ex.LOG_ENTRY),
        ),
    )
)
class LogListView(NoOptions, StrictQuery, generics.ListAPIView):
    """The Logs tab's entries."""

    query_parameters = {None: (*LogFilter.base_filters, "cursor", "limit")}
    parameter_docs = LOG_PARAMETERS
    serializer_class = s.LogEntrySerializer
    filter_backends = [StrictFilterBackend]
    filterset_class = LogFilter
    pagination_class = LogPagination
    queryset = LogEntry.objects.all()


class DashboardView(NoOptions, StrictQuery, APIView):
    """The Dashboard's summary."""

    @extend_schema(
        summary="The Dashboard",
        description="The Dashboard's cards: counts per status, errors of the last 24 hours, throughput, the queue and "
        "workers, the most frequent errors, the latest errors and operations, the mappings in trouble and the Alerts "
        "card (alerts firing now, rules that cannot be evaluated).",
        responses=OpenApiResponse(
            s.DashboardSerializer, description="The Dashboard now.", examples=ex.example("A day", ex.DASHBOARD)
        ),
    )
    def get(self, request):
        summary = {**dashboard.summary(timezone.now()), "alerts": dashboard_alerts()}
        return Response(s.DashboardSerializer(summary, context={"request": request}).data)


class MetricsView(NoOptions, StrictQuery, APIView):
    """The Metrics page's numbers."""

    query_parameters = {None: ("start", "end", "days", "mapping")}
    parameter_docs = METRICS_PARAMETERS

    @extend_schema(
        summary="Metrics of a period",
        description="Created, updated and all synchronizations of the period against the previous period of the same "
        "length, the daily series and the weekday × hour grid: the numbers the Metrics page shows. The period is "
        "start + days, end + days, or start + end (default: the 31 days ending today); at most 1098 days.",
        responses=OpenApiResponse(
            s.MetricsSerializer,
            description="The period's numbers against the previous period's, per day and per weekday × hour.",
            examples=ex.example("A week", ex.METRICS),
        ),
    )
    @in_server_zone  # as the page: days and hours of TIME_ZONE, whatever the user's zone
    def get(self, request):
        query = valid_query(s.MetricsQuerySerializer, request)
        asked = {name: str(query[name]) for name in ("start", "end", "days") if name in query}
        period, problems = parse_period(asked, timezone.localdate())
        if problems:
            raise InvalidParameters({"days" if "days" in asked else "end": problems})
        mapping_id = query.get("mapping")
        if mapping_id is not None and not Mapping.objects.filter(pk=mapping_id).exists():
            raise InvalidParameters({"mapping": ["No mapping has this id."]})
        hours = queries.hourly(period, mapping_id)
        current = sum((counts for _, counts in hours), queries.Counts())
        previous = queries.totals(period.previous, mapping_id)

        def counted(counts: queries.Counts) -> dict:
            return {"created": counts.created, "updated": counts.updated, "total": counts.total}

        data = {
            "period": {"start": period.start, "end": period.end, "days": period.days},
            "previous": {"start": period.previous.start, "end": period.previous.end, "days": period.days},
            "mapping": mapping_id,
            "totals": [
                {"name": c.name, "current": c.current, "previous": c.previous, "change": c.change}
                for c in queries.comparison(current, previous)
            ],
            "daily": [{"date": day, **counted(counts)} for day, counts in queries.daily(hours, period)],
            "grouped": [
                {"weekday": weekday, "hour": hour, **counted(counts)}
                for (weekday, hour), counts in sorted(queries.grouped(hours).items())
            ],
        }
        return Response(s.MetricsSerializer(data).data)


@login_not_required
@csrf_exempt
def unknown_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any path under /sync/api/ that no route takes: a 404 problem. A console
    page under /sync/api/ asked for without its trailing slash is redirected as
    APPEND_SLASH would (the API's own routes take both spellings)."""
    if request.method in ("GET", "HEAD") and not request.path.endswith("/"):
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not unknown_path:
            query = request.META.get("QUERY_STRING", "")
            return HttpResponsePermanentRedirect(request.path + "/" + (f"?{query}" if query else ""))
    return page_not_found(request)
