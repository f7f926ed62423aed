"""The Preferences page: display time zone, theme, rows per page."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts import preferences
from accounts.forms import PreferencesForm


def _back(request: HttpRequest) -> str:
    """The page of this site to go back to (``next``), or ""."""
    back = request.POST.get("next", "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        return back
    return ""


@require_http_methods(["GET", "HEAD", "POST"])
def preferences_page(request: HttpRequest) -> HttpResponse:
    """GET: the form with the user's preferences. POST: saves the fields posted
    (any subset: the header's theme switch posts ``theme`` alone) and goes back to
    ``next`` (a page of this site) or to this page; an invalid value changes
    nothing and says why."""
    current = preferences.get(request)
    if request.method == "POST":
        form = PreferencesForm(request.POST, server_zone=settings.TIME_ZONE)
        if form.is_valid():
            preferences.save(request, **form.changes())
            if "next" not in request.POST:
                messages.success(request, "Preferences saved.")
            return redirect(_back(request) or "preferences")
        if _back(request):
            messages.error(request, "Preferences not saved: " + " ".join(e for es in form.errors.values() for e in es))
            return redirect(_back(request))
    else:
        form = PreferencesForm(
            initial={"time_zone": current.time_zone, "theme": current.theme, "per_page": str(current.per_page)},
            server_zone=settings.TIME_ZONE,
        )
    return render(request, "accounts/preferences.html", {"form": form, "current": current})
