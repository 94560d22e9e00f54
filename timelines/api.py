"""The base of the product's machine-facing JSON views (the inbound endpoint, the webhooks
management API): the credential is in the URL or a Bearer token, so no sessions, CSRF, DRF
authentication or throttling, no body parsing by DRF, and JSON whatever the Accept header says."""

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView


class AlwaysJSON(BaseContentNegotiation):
    """Integrators send any Accept header; the answer is JSON whatever it says (never a 406)."""

    def select_parser(self, request, parsers):
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class JSONOnlyAPIView(APIView):
    authentication_classes = []
    permission_classes = []
    throttle_classes = []
    parser_classes = []
    renderer_classes = [JSONRenderer]
    content_negotiation_class = AlwaysJSON
