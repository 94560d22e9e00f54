from django.urls import path

from webhooks.outbound import views

app_name = "outbound"

urlpatterns = [
    path(
        "w/<int:workspace_id>/integrations/outbound/log/",
        views.download_log,
        name="log",
    ),
]
