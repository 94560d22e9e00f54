"""The product's URLs plus the two reference views bench/inbound.py compares the endpoint with:
an empty DRF view and a bare Django view, served by the same gunicorn. Bench only."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from timelines.urls import urlpatterns as product_urls


class EmptyDRFView(APIView):
    def post(self, request):
        return Response({"status": "success", "data": {}})


@csrf_exempt
def bare_view(request):
    return HttpResponse(b'{"status": "success", "data": {}}', content_type="application/json")


urlpatterns = [
    path("bench/empty-drf/", EmptyDRFView.as_view()),
    path("bench/bare/", bare_view),
    *product_urls,
]
