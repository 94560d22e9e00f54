from django.contrib.auth.decorators import login_required
from django.urls import path

from webhooks.outbound import pages, views

app_name = "outbound"

urlpatterns = [
    path(
        "w/<int:workspace_id>/integrations/outbound/log/",
        login_required(views.download_log),
        name="log",
    ),
    # The owner's page (webhooks/outbound/pages.py).
    path("w/<int:workspace_id>/integrations/outbound/", pages.outbound, name="page"),
    path(
        "w/<int:workspace_id>/integrations/outbound/rotate-secret/",
        pages.rotate_secret,
        name="rotate-secret",
    ),
    path(
        "w/<int:workspace_id>/integrations/outbound/send-now/",
        pages.send_now,
        name="send-now",
    ),
    path(
        "w/<int:workspace_id>/integrations/outbound/deliveries/<int:delivery_id>/redeliver/",
        pages.redeliver,
        name="redeliver",
    ),
]
