"""/sync/api/: the schema, its documentation page, the Prometheus endpoint, the
API token page and, under v1/, the JSON API."""

from django.urls import URLPattern, include, path, re_path
from django.urls.resolvers import RoutePattern
from rest_framework.routers import SimpleRouter

from api import docs, pages, prometheus, views

app_name = "api"

router = SimpleRouter()
router.register("syncs", views.SyncViewSet, basename="sync")
router.register("operations", views.OperationViewSet, basename="operation")
router.register("mappings", views.MappingViewSet, basename="mapping")
router.register("repositories", views.RepositoryViewSet, basename="repository")


def slash_optional(patterns: list[URLPattern]) -> list[URLPattern]:
    """Each pattern, and a twin without its trailing slash (unnamed, so reverse()
    gives the canonical URL): a POST to ".../actions" is answered, not redirected
    (APPEND_SLASH) into a GET."""
    twins = []
    for pattern in patterns:
        twins.append(pattern)
        if isinstance(pattern.pattern, RoutePattern):
            twins.append(path(str(pattern.pattern).rstrip("/"), pattern.callback, pattern.default_args))
        else:
            regex = pattern.pattern.regex.pattern
            twins.append(re_path(regex.removesuffix("/$") + "$", pattern.callback, pattern.default_args))
    return twins


# The API authenticates each request itself (a token, or the session): DRF marks
# its views as needing no login, so the console's LoginRequiredMiddleware never
# sends a script to the login page.
v1 = slash_optional(
    [
        *router.urls,
        path("logs/", views.LogListView.as_view(), name="logs"),
        path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
        path("metrics/", views.MetricsView.as_view(), name="metrics"),
    ]
)
urlpatterns = [
    path("v1/", include(v1)),
    *slash_optional([path("schema/", docs.SchemaView.as_view(), name="schema")]),
    # For a signed-in user (anonymous: the login page first).
    path("docs/", docs.DocsView.as_view(), name="docs"),
    path("tokens/", pages.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="token_revoke"),
    path("metrics", prometheus.metrics, name="prometheus"),
    # Anything else under /sync/api/: a 404 problem, not the console's HTML page.
    re_path(r"^(?P<rest>.*)$", views.unknown_path, name="unknown"),
]
