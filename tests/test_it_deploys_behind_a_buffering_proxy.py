"""SPEC P7 in the files that are shipped: deploy/compose.yaml publishes nginx only, nginx buffers
bodies and answers in front of gunicorn, and logs no path (P6). The production-shape suite runs
this very nginx.conf in front of gunicorn.conf.py (tests/production/test_slow_clients.py)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()


def directives(name):
    """The values of every `name …;` directive in nginx.conf, comments left out."""
    text = "\n".join(line.split("#", 1)[0] for line in NGINX.splitlines())
    return re.findall(rf"(?m)^\s*{name}\s+([^;{{]*);", text)


def test_only_the_proxy_is_published_and_it_runs_the_shipped_configuration():
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("nginx:")
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert proxy["ports"] == ["${APP_PORT:-8000}:8080"] and directives("listen") == ["8080"]
    assert "ports" not in SERVICES["app"]
    assert directives("server") == ["app:8000"] and "app" in proxy["depends_on"]


def test_nginx_reads_every_body_and_answer_before_gunicorn_is_freed():
    assert directives("proxy_request_buffering") == ["on"]
    assert directives("proxy_buffering") == ["on"]
    assert directives("client_body_buffer_size") == ["128k"]  # a 64 KB JSON body in memory
    # Longer than gunicorn's worker timeout, so a stuck worker is replaced before nginx gives up.
    timeout = int(directives("proxy_read_timeout")[0].rstrip("s"))
    gunicorn = {}
    exec((ROOT / "gunicorn.conf.py").read_text(), gunicorn)
    assert timeout > gunicorn["timeout"] and gunicorn["worker_class"] == "sync"


def test_nginx_logs_no_path_and_no_request_line():
    formats = " ".join(directives("log_format"))
    assert not re.search(r"\$(request|request_uri|uri|args|http_\w+)\b", formats), formats
    assert directives("error_log") == ["stderr crit"]


def test_the_app_believes_the_proxys_client_address_and_request_id():
    app = SERVICES["app"]["environment"]
    assert app["TRUSTED_PROXIES"] == "*"
    assert "X-Real-IP $remote_addr" in directives("proxy_set_header")
    assert "X-Request-ID $request_id" in directives("proxy_set_header")
