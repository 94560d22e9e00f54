"""The client's address behind the deployment's proxy (deploy/nginx.conf): every request then
comes from the proxy's address, and the client's is in X-Real-IP, which the proxy sets
(replacing any a client sent). For a request from an address in TRUSTED_PROXIES, REMOTE_ADDR
becomes that client's address — for the inbound attempt log (I3) and gunicorn's access line
alike, which read the same WSGI environ. With TRUSTED_PROXIES empty (the default) no header is
believed, and this middleware leaves the chain."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, MiddlewareNotUsed


class ClientAddress:
    def __init__(self, get_response):
        if not settings.TRUSTED_PROXIES:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.anyone = "*" in settings.TRUSTED_PROXIES
        try:
            self.proxies = [
                ipaddress.ip_network(net, strict=False)
                for net in settings.TRUSTED_PROXIES
                if net != "*"
            ]
        except ValueError as exc:
            raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None

    def __call__(self, request):
        meta = request.META
        client = _address(meta.get("HTTP_X_REAL_IP"))
        if client is not None and self.trusts(_address(meta.get("REMOTE_ADDR"))):
            meta["REMOTE_ADDR"] = str(client)
        return self.get_response(request)

    def trusts(self, peer):
        return self.anyone or (peer is not None and any(peer in net for net in self.proxies))


def _address(value):
    try:
        return ipaddress.ip_address(str(value or "").strip())
    except ValueError:
        return None
