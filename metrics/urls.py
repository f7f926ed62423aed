from django.urls import path

from metrics import views

urlpatterns = [
    path("metrics/", views.metrics_page, name="metrics"),
    path("metrics/daily.json", views.DailyChartData.as_view(), name="metrics_daily_json"),
    path("metrics/grouped.json", views.GroupedChartData.as_view(), name="metrics_grouped_json"),
    path("metrics/daily.csv", views.daily_csv, name="metrics_daily_csv"),
]
