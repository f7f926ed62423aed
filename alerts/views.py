"""The alert history page: what fires now, what fired and cleared, and every
notification sent or tried. Parses the query, calls the queryset, renders."""

from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import VIEW_PERMISSION
from alerts.models import Alert, Delivery, Rule
from syncweb.inputs import parse_int

PER_PAGE = 25
MAX_PAGE = 100_000
STATES = {"": "All", **dict(Alert.State.choices)}
RECENT_DELIVERIES = 20


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def alert_history(request: HttpRequest) -> HttpResponse:
    """Alerts newest first (filter ``state``: firing or resolved; ``page``), each
    with its deliveries, and the latest deliveries of any kind (tests too)."""
    problems = []
    state = request.GET.get("state", "")
    if state not in STATES:
        problems.append(f"The state {state[:40]!r} was ignored: choose firing or resolved. Showing all.")
        state = ""
    raw_page = request.GET.get("page", "1")
    page_number = parse_int(raw_page, minimum=1, maximum=MAX_PAGE)
    if page_number is None:
        problems.append(f"The page {raw_page[:40]!r} was ignored: it is not a page number. Showing page 1.")
        page_number = 1
    alerts = (
        Alert.objects.select_related("rule")
        .prefetch_related(Prefetch("deliveries", queryset=Delivery.objects.select_related("channel").order_by("pk")))
        .order_by("-fired_at", "-pk")
    )
    if state:
        alerts = alerts.filter(state=state)
    page = Paginator(alerts, PER_PAGE).get_page(page_number)
    deliveries = Delivery.objects.select_related("channel", "alert").order_by("-created_at", "-pk")[:RECENT_DELIVERIES]
    return render(
        request,
        "alerts/history.html",
        {
            "page": page,
            "state": state,
            "states": STATES.items(),
            "problems": problems,
            "firing": Alert.objects.firing(),
            "failing": Rule.objects.failing(),
            "deliveries": deliveries,
        },
    )
