"""The product's URLs plus the reference views bench/inbound.py compares the endpoint with: a bare
Django view, an empty DRF view, and a DRF view that makes one INSERT (the least an endpoint that
stores something can do), served by the same gunicorn. Bench only."""

from django.db import connection
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response
from rest_framework.views import APIView

from timelines.urls import urlpatterns as product_urls


class EmptyDRFView(APIView):
    def post(self, request):
        return Response({"status": "success", "data": {}})


class OneInsertDRFView(APIView):
    """One INSERT of one row, in autocommit: one round trip and one commit."""

    def post(self, request):
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {BENCH_TABLE} (body) VALUES (%s)", [request.body.decode()])
        return Response({"status": "success", "data": {}})


BENCH_TABLE = "bench_one_insert"
BENCH_TABLE_SQL = f"CREATE TABLE IF NOT EXISTS {BENCH_TABLE} (id {{id}}, body text NOT NULL)"


@csrf_exempt
def bare_view(request):
    return HttpResponse(b'{"status": "success", "data": {}}', content_type="application/json")


urlpatterns = [
    path("bench/empty-drf/", EmptyDRFView.as_view()),
    path("bench/bare/", bare_view),
    path("bench/one-insert/", OneInsertDRFView.as_view()),
    *product_urls,
]
