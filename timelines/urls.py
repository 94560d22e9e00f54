from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from timelines import views

urlpatterns = [
    # First: the inbound endpoint takes the machine traffic, and Django tries the patterns in
    # order on every request. No other pattern matches its URLs, so the order changes no answer.
    path("", include("webhooks.inbound.urls")),
    # Health, metrics and the operations page (ops/urls.py), before the admin's catch-all.
    path("", include("ops.urls")),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The same schema as a page to read and try (Swagger UI): the inbound endpoint and the
    # Webhooks v2 management API.
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", views.home, name="home"),
    path("", include("credits.urls")),
    path("", include("whatsapp.urls")),
    path("", include("webhooks.outbound.urls")),
    path("", include("webhooks.endpoints.urls")),
]
