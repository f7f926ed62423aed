"""The console's API tokens page: a signed-in user lists, makes and revokes their
own tokens; a new token is shown on the answer to the POST that made it, once.
(Admins make tokens for others in the Django admin.)"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import VIEW_PERMISSION
from api.forms import NewTokenForm
from api.models import ApiToken


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_http_methods(["GET", "HEAD", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    """GET: the user's tokens. POST: a new one, shown once on this answer."""
    form = NewTokenForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        token, plain = ApiToken.objects.issue(request.user, form.cleaned_data["name"], expires_at=form.expires_at())
        created = {"token": token, "plain": plain}
        form = NewTokenForm()
    now = timezone.now()
    tokens = [(token, token.state(now)) for token in ApiToken.objects.filter(user=request.user)]
    return render(request, "api/tokens.html", {"form": form, "tokens": tokens, "created": created})


@permission_required(VIEW_PERMISSION, raise_exception=True)
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revokes one of the user's own tokens (another's is a 404)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if ApiToken.objects.filter(pk=token.pk).revoke(timezone.now()):
        messages.success(request, f"The token '{token.name}' ({token.shown_prefix}) is revoked.")
    return redirect("api:tokens")
