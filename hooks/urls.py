"""/sync/hooks/<repository id>/ (the trailing slash optional: a tracker's POST is
never redirected), and a JSON 404 for anything else under /sync/hooks/."""

from django.urls import path, re_path

from hooks import views

app_name = "hooks"

urlpatterns = [
    path("<str:repository>/", views.receive, name="receive"),
    re_path(r"^(?P<repository>[^/]+)$", views.receive),
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
