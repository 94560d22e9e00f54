from django.urls import path, re_path

from webhooks.inbound import views

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
    path("w/<int:workspace_id>/integrations/inbound/log/", views.download_log, name="log"),
]
