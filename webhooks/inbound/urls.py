from django.contrib.auth.decorators import login_required
from django.urls import path, re_path

from webhooks.inbound import pages, views

app_name = "inbound"

urlpatterns = [
    path("webhooks/inbound/<str:token>/", views.Endpoint.as_view(), name="endpoint"),
    path(
        "webhooks/inbound/<str:token>/messages/<str:message_id>/",
        views.MessageStatus.as_view(),
        name="message-status",
    ),
    # Without the trailing slash too: a POST redirected by APPEND_SLASH would lose its body.
    re_path(r"^webhooks/inbound/(?P<token>[^/]+)$", views.Endpoint.as_view(schema=None)),
    re_path(
        r"^webhooks/inbound/(?P<token>[^/]+)/messages/(?P<message_id>[^/]+)$",
        views.MessageStatus.as_view(schema=None),
    ),
    path(
        "w/<int:workspace_id>/integrations/inbound/log/",
        login_required(views.download_log),
        name="log",
    ),
    # The owner's page (webhooks/inbound/pages.py).
    path("w/<int:workspace_id>/integrations/inbound/", pages.inbound, name="page"),
    path(
        "w/<int:workspace_id>/integrations/inbound/regenerate/",
        pages.regenerate,
        name="regenerate",
    ),
    path("w/<int:workspace_id>/integrations/inbound/enabled/", pages.set_enabled, name="enabled"),
]
