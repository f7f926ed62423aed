from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView

from syncweb import views

admin.site.site_header = "syncweb administration"
admin.site.site_title = "syncweb admin"
admin.site.site_url = "/sync/"

urlpatterns = [
    path("", login_not_required(RedirectView.as_view(url="/sync/", permanent=False))),
    path("sync/", include("accounts.urls")),
    path("sync/", include("synchronizations.urls")),
    path("sync/", include("metrics.urls")),
    path("sync/", include("alerts.urls")),
    path("sync/health/", views.health_check, name="health"),
    # Webhooks from GitHub, GitLab and Jira (hooks/views.py): no login, the signature is the proof.
    path("sync/hooks/", include("hooks.urls")),
    path("favicon.ico", views.favicon, name="favicon"),
    path("sync/support-bundle.zip", views.support_bundle, name="support_bundle"),
    # The JSON API, its schema and docs, API tokens, Prometheus (api/urls.py).
    path("sync/api/", include("api.urls")),
    path("sync/admin/", admin.site.urls),
    # The header's sections: the Dashboard here; Syncs, Mappings and Logs in
    # synchronizations/urls.py; Metrics in metrics/urls.py.
    path("sync/", views.dashboard_page, name="dashboard"),
]

# Under /sync/api/ every answer is JSON: these answer problem details there
# (api/problems.py) and the console's pages elsewhere.
handler400 = "api.problems.bad_request"
handler403 = "api.problems.permission_denied"
handler404 = "api.problems.page_not_found"
handler500 = "api.problems.server_error"
