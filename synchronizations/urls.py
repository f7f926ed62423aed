from django.urls import path

from synchronizations import views

urlpatterns = [
    path("syncs/", views.sync_list, name="syncs"),
    path("syncs/actions/", views.sync_actions, name="sync_actions"),
    path("syncs/<int:pk>/", views.sync_detail, name="sync_detail"),
    path("operations/<int:pk>/", views.operation_detail, name="operation_detail"),
]
