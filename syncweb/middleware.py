"""Middleware of our own."""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from syncweb.inputs import parse_id


class AdminActionIdsMiddleware:
    """A Django admin action posted with a selected id that is not an id (a forged
    or broken form: ``_selected_action=abc``) gets a message and the list again,
    changing nothing. Without it the admin raises ValueError while filtering
    ``pk__in`` and answers 500, for every model and every action, delete_selected
    included. All our models' primary keys are integers."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.path.startswith(reverse("admin:index")):
            selected = request.POST.getlist("_selected_action")
            bad = [value for value in selected if parse_id(value) is None]
            if bad:
                shown = ", ".join(repr(value[:40]) for value in bad[:5])
                messages.error(request, f"{len(bad)} selected id(s) are not ids ({shown}); nothing was done.")
                return redirect(request.get_full_path())
        return self.get_response(request)
