"""The schema and its documentation page (Swagger UI, served from our origin by
drf-spectacular-sidecar) under the Content-Security-Policy: no inline script or
style, so the page's setup script is a request of its own (drf-spectacular's
split view) and its few styles a static file."""

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny

from api.permissions import CanView


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema: YAML, or JSON with ``?format=json`` or
    ``Accept: application/vnd.oai.openapi+json``. Public: it describes the API,
    it holds no data."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    content_negotiation_class = DefaultContentNegotiation


class DocsView(SpectacularSwaggerSplitView):
    """The documentation page, for a signed-in user: "Try it out" calls the API
    with the browser's session (and its CSRF token)."""

    permission_classes = [CanView]
    template_name = "api/swagger_ui.html"
    url_name = "api:schema"
    title = "syncweb API"

    @classmethod
    def as_view(cls, **initkwargs):
        """The view, left to the console's LoginRequiredMiddleware (DRF marks its
        views as needing no login): anonymous users get the login page, then this one."""
        view = super().as_view(**initkwargs)
        view.login_required = True
        return view
