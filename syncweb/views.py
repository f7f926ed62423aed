from django.conf import settings
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

from accounts.roles import VIEW_PERMISSION
from runtime.health import health
from syncweb import dashboard, support
from syncweb.zones import file_stamp

# Who may download the support bundle: admins (the Django admin's users who
# manage repositories).
SUPPORT_BUNDLE_PERMISSION = "synchronizations.change_repository"
FAVICON = settings.BASE_DIR / "static" / "syncweb" / "favicon.ico"


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


@permission_required(SUPPORT_BUNDLE_PERMISSION, raise_exception=True)
@never_cache
@require_safe
def support_bundle(request: HttpRequest) -> HttpResponse:
    """The support bundle (syncweb.support) as a zip download; admins only."""
    if not request.user.is_staff:
        raise PermissionDenied
    now = timezone.now()
    response = HttpResponse(support.build(request.user.get_username(), now), content_type="application/zip")
    # Named like the CSV exports: the time in the display zone, with its offset.
    response["Content-Disposition"] = (
        f'attachment; filename="syncweb-support-{file_stamp(timezone.localtime(now))}.zip"'
    )
    return response


@login_not_required
@cache_control(max_age=86_400, public=True)
@require_safe
def favicon(request: HttpRequest) -> FileResponse:
    """/favicon.ico, which browsers ask for on pages that name no icon (the admin's)."""
    return FileResponse(FAVICON.open("rb"), content_type="image/vnd.microsoft.icon")
