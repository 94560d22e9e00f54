from django.urls import path

from ops import health, metrics, page

app_name = "ops"
urlpatterns = [
    path("health/live", health.live, name="live"),
    path("health/ready", health.ready, name="ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/operations/", page.view, name="operations"),
]
