"""`manage.py heartbeat`: exits 0 when a qcluster worker process of this host beat within the
last minute, 1 otherwise: the worker container's health check (deploy/compose.yaml). The web
app's health checks are HTTP (/health/ready); a worker serves no HTTP, and its own processes'
heartbeats, not another machine's, say whether this one works."""

import socket

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ops.backlogs import HEARTBEAT_MAX_AGE, heartbeats


class Command(BaseCommand):
    help = "Exit 0 when a worker process of this host beat within the last minute."

    def handle(self, *args, **options):
        host = socket.gethostname()
        mine = [b for b in heartbeats(timezone.now()) if b.holder.rsplit(":", 1)[0] == host]
        alive = [b for b in mine if b.alive]
        if not alive:
            raise CommandError(
                f"no worker process of {host} beat within {HEARTBEAT_MAX_AGE} s ({len(mine)} known)"
            )
        self.stdout.write(f"{len(alive)} worker process(es) of {host} alive")
