"""System checks for the WAHA servers accounts are connected through (`manage.py check
--deploy`): each server is asked its version, and what cannot work on it is said plainly."""

from django.core.checks import Error, Warning, register
from django.db import DatabaseError


@register(deploy=True)
def check_waha_servers(app_configs, **kwargs):
    """E010: a WAHA server cannot serve a connected session at all (unsigned events, a session
    its tier does not run); W011: what works only partly; W012: a server that cannot be asked."""
    from django.conf import settings

    from whatsapp.models import WahaConnection
    from whatsapp.transports.waha import WahaClient, WahaError

    try:
        connections = list(WahaConnection.objects.filter(account__isnull=False))
    except DatabaseError:  # not migrated yet: nothing is connected
        connections = []
    if settings.WAHA_URL:  # the operator's own server, before anyone connects through it
        operators = WahaConnection(base_url=settings.WAHA_URL, api_key=settings.WAHA_API_KEY)
        connections.append(operators)
    messages, asked = [], {}
    for connection in connections:
        where = (connection.base_url, connection.api_key)
        if where not in asked:
            try:
                asked[where] = WahaClient(*where).server()
            except WahaError as exc:
                asked[where] = exc
        messages += _findings(connection, asked[where])
    return messages


def _findings(connection, server):
    label = f"WAHA session “{connection.session}” at {connection.base_url}"
    if isinstance(server, Exception):
        return [Warning(f"{label}: {server}", id="whatsapp.W012")]
    found = [Error(f"{label}: {reason}", id="whatsapp.E010") for reason in
             server.refusals(connection.session)]  # fmt: skip
    found += [Warning(f"{label}: {note}", id="whatsapp.W011") for note in server.limits()]
    return found
