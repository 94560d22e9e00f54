"""nginx for the production-shape suite: the shipped deploy/nginx.conf, with only its listen
address, upstream, pid, access log and temporary paths changed to the run's."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def start_nginx(running, temp, start):
    """nginx in front of the run's gunicorn, started with `start(args, env, log)`."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.exit(
            "The production-shape suite needs nginx (the deployment's proxy): "
            "apt-get install nginx.",
            returncode=2,
        )
    shutil.rmtree(temp, ignore_errors=True)
    temp.mkdir()
    temp.chmod(0o777)  # nginx's workers may run as another user (nobody) when the suite is root
    config = temp.parent / "nginx.conf"
    config.write_text(nginx_config(running, temp))
    return start(
        [binary, "-c", str(config), "-p", str(temp), "-e", "stderr", "-g", "daemon off;"],
        {"PATH": os.environ.get("PATH", "")},
        running.nginx_logs[0],
    )


def nginx_config(running, temp):
    """deploy/nginx.conf for this run: each change must find exactly the text it replaces."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    changes = {
        "listen 8080;": f"listen 127.0.0.1:{running.port};",
        "server app:8000;": f"server 127.0.0.1:{running.direct_port};",
        "pid /var/run/nginx.pid;": f"pid {temp}/nginx.pid;",
        "access_log /dev/stdout ": f"access_log {running.nginx_logs[1]} ",
        "http {\n": "http {\n"
        + "".join(f"    {kind}_temp_path {temp}/{kind};\n" for kind in TEMP_PATHS),
    }
    for old, new in changes.items():
        assert text.count(old) == 1, f"deploy/nginx.conf no longer has {old!r} once"
        text = text.replace(old, new)
    return text
