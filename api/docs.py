"""The schema and its documentation page (Swagger UI, served from our origin by
drf-spectacular-sidecar) under the Content-Security-Policy: no inline script or
style, so the page's setup script is a request of its own (drf-spectacular's
split view) and its few styles a static file."""

from django.conf import settings
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer

from api.permissions import CanView
from api.problems import MEDIA_TYPE, InvalidParameters


class SchemaView(SpectacularAPIView):
    """The OpenAPI 3 schema: YAML, or JSON with ``?format=json`` or
    ``Accept: application/vnd.oai.openapi+json``. Public: it describes the API,
    it holds no data. Query parameters: ``format`` and ``version`` (the API's
    only version, SPECTACULAR_SETTINGS["VERSION"]); anything else, a format it
    does not have or another version is a 400 problem. Every error is a JSON
    problem, whatever format was asked for."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []
    content_negotiation_class = DefaultContentNegotiation

    def initial(self, request, *args, **kwargs):
        """Refuses unknown parameters and versions before DRF's negotiation (which
        would answer an unknown format with an empty 404)."""
        unknown = [name for name in request.query_params if name not in ("format", "version")]
        if unknown:
            raise InvalidParameters(
                {name: ["Not a parameter of the schema (it takes: format, version)."] for name in unknown}
            )
        formats = sorted({renderer.format for renderer in self.renderer_classes})
        if request.query_params.get("format", formats[0]) not in formats:
            raise InvalidParameters({"format": [f"Give one of: {', '.join(formats)}."]})
        version = settings.SPECTACULAR_SETTINGS["VERSION"]
        if request.query_params.get("version", version) != version:
            raise InvalidParameters({"version": [f"The API has version {version} only."]})
        super().initial(request, *args, **kwargs)

    def _get_filename(self, request, version) -> str:
        """A fixed name: nothing from the request goes into the header."""
        renderer = getattr(request, "accepted_renderer", None)
        return "syncweb-api.json" if renderer is not None and "json" in renderer.format else "syncweb-api.yaml"

    def finalize_response(self, request, response, *args, **kwargs):
        """An error (a problem, from api.problems.exception_handler) is rendered as
        JSON, not as YAML labelled application/problem+json."""
        if response.status_code >= 400:
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = MEDIA_TYPE
        return super().finalize_response(request, response, *args, **kwargs)


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
