"""WAHA events figure: signed message.any events stored per second through the real endpoint
(HMAC check, per-account lock, duplicate check, store_message with its signal), in process.

    .venv/bin/python bench/waha_events.py [--events 2000]

Runs on a fresh SQLite file of its own (or on DATABASE_URL if set).
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure_environment():
    workdir = Path(tempfile.mkdtemp(prefix="waha-bench-"))
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir / 'bench.sqlite3'}")
    os.environ.setdefault("SECRET_KEY", "bench-only")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = "timelines.settings"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000)
    args = parser.parse_args()
    configure_environment()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from timelines.models import Workspace
    from whatsapp.models import Message, WahaConnection

    settings.ALLOWED_HOSTS = ["testserver"]
    call_command("migrate", verbosity=0)
    run = os.urandom(4).hex()  # a database reused between runs keeps the older rows
    owner = get_user_model().objects.create_user(f"bench-owner-{run}")
    workspace = Workspace.create_for(owner, f"Bench {run}")
    connection = WahaConnection.objects.create(
        workspace=workspace, base_url="http://127.0.0.1:9", created_by=owner
    )
    connection.link("+15105566777")
    template = json.loads((ROOT / "tests/fixtures/waha/message_any_received.json").read_text())
    client, url = Client(), f"/whatsapp/waha/{connection.secret}/"

    started = time.perf_counter()
    for n in range(args.events):
        template["payload"]["id"] = f"false_1415123{n % 50:04d}@c.us_3EB0{n:016X}"
        template["payload"]["from"] = f"1415123{n % 50:04d}@c.us"
        body = json.dumps(template).encode()
        signature = hmac.new(connection.hmac_key.encode(), body, hashlib.sha512).hexdigest()
        response = client.post(
            url, data=body, content_type="application/json", headers={"X-Webhook-Hmac": signature}
        )
        assert response.status_code == 200, response.content
    elapsed = time.perf_counter() - started
    stored = Message.objects.filter(chat__account__workspace=workspace).count()
    print(
        json.dumps(
            {
                "events": args.events,
                "stored": stored,
                "seconds": round(elapsed, 2),
                "events_per_second": round(args.events / elapsed, 1),
                "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
