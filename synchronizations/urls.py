from django.urls import path

from synchronizations import views

urlpatterns = [
    path("syncs/", views.sync_list, name="syncs"),
    path("syncs/actions/", views.sync_actions, name="sync_actions"),
    path("syncs/<int:pk>/", views.sync_detail, name="sync_detail"),
    path("syncs/<int:pk>/resolve/", views.sync_resolve, name="sync_resolve"),
    path("operations/<int:pk>/", views.operation_detail, name="operation_detail"),
    path("mappings/", views.mapping_list, name="mappings"),
    path("mappings/<int:pk>/", views.mapping_detail, name="mapping_detail"),
    path("mappings/<int:pk>/reprocess/", views.mapping_reprocess, name="mapping_reprocess"),
    path("mappings/<int:pk>/rescan/", views.mapping_rescan, name="mapping_rescan"),
    path("logs/", views.log_list, name="logs"),
]
