from django.urls import path

from alerts import views

urlpatterns = [
    path("alerts/", views.alert_history, name="alerts"),
]
