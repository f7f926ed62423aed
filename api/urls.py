"""/sync/api/: the schema, its documentation page, the Prometheus endpoint, the
API token page and, under v1/, the JSON API."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from api import docs, pages, prometheus, views

app_name = "api"

router = SimpleRouter()
router.register("syncs", views.SyncViewSet, basename="sync")
router.register("operations", views.OperationViewSet, basename="operation")
router.register("mappings", views.MappingViewSet, basename="mapping")
router.register("repositories", views.RepositoryViewSet, basename="repository")

# The API authenticates each request itself (a token, or the session): DRF marks
# its views as needing no login, so the console's LoginRequiredMiddleware never
# sends a script to the login page.
v1 = [
    *router.urls,
    path("logs/", views.LogListView.as_view(), name="logs"),
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("metrics/", views.MetricsView.as_view(), name="metrics"),
]
urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", docs.SchemaView.as_view(), name="schema"),
    # For a signed-in user (anonymous: the login page first).
    path("docs/", docs.DocsView.as_view(), name="docs"),
    path("tokens/", pages.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke/", pages.token_revoke, name="token_revoke"),
    path("metrics", prometheus.metrics, name="prometheus"),
]
