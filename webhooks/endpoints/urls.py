from django.urls import path

from webhooks.endpoints import api, files, pages

app_name = "endpoints"

urlpatterns = [
    path("files/<str:token>/", files.attachment, name="attachment"),
    # TimelinesAI's paths, with and without the trailing slash.
    path("integrations/api/webhooks", api.Webhooks.as_view(), name="api-webhooks"),
    path("integrations/api/webhooks/", api.Webhooks.as_view()),
    path("integrations/api/webhooks/<int:pk>", api.Webhook.as_view(), name="api-webhook"),
    path("integrations/api/webhooks/<int:pk>/", api.Webhook.as_view()),
    path(
        "integrations/api/webhooks/<int:pk>/rotate-secret",
        api.RotateSecret.as_view(),
        name="api-rotate-secret",
    ),
    path("integrations/api/webhooks/<int:pk>/rotate-secret/", api.RotateSecret.as_view()),
    # The owner's pages (pages.py).
    path("w/<int:workspace_id>/integrations/webhooks/", pages.endpoints, name="page"),
    path(
        "w/<int:workspace_id>/integrations/webhooks/<int:endpoint_id>/",
        pages.endpoint_action,
        name="action",
    ),
    path(
        "w/<int:workspace_id>/integrations/webhooks/<int:endpoint_id>/log/",
        pages.download_log,
        name="log",
    ),
    path("w/<int:workspace_id>/integrations/api-tokens/", pages.tokens, name="tokens"),
]
