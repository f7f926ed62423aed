from django.contrib.auth.decorators import login_not_required, permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from accounts.roles import VIEW_PERMISSION
from runtime.health import health
from syncweb import dashboard


@login_not_required
@never_cache
@require_safe
def health_check(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: 200 when the database, Redis and at least
    one worker are up, 503 otherwise; the body names the state of each."""
    state = health()
    return JsonResponse(state, status=200 if state["status"] == "ok" else 503)


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_safe
def dashboard_page(request: HttpRequest) -> HttpResponse:
    """The Dashboard; with HX-Request, only its body (the page refreshes it itself)."""
    context = dashboard.summary(timezone.now())
    partial = request.headers.get("HX-Request") == "true"
    return render(request, "syncweb/_dashboard_body.html" if partial else "syncweb/dashboard.html", context)
