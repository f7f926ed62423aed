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
    path("sync/health/", views.health_check, name="health"),
    path("sync/admin/", admin.site.urls),
    # The five sections of the header. Each is replaced by its app's views as the
    # issue that builds it lands.
    path("sync/", views.not_built, {"section": "Dashboard", "issue": 6}, name="dashboard"),
    path("sync/mappings/", views.not_built, {"section": "Mappings", "issue": 6}, name="mappings"),
    path("sync/logs/", views.not_built, {"section": "Logs", "issue": 6}, name="logs"),
]
