"""SPEC P6 and H4 in gunicorn's own logs, as gunicorn.conf.py (the shipped configuration) sets
them up: the access line and the error log carry a fingerprint where a URL or API token was, in
readable text by default and as one JSON object a line with LOG_FORMAT=json."""

import datetime
import json
import runpy
from pathlib import Path

import pytest
from gunicorn.config import Config

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "AbC-123_xyzTOKENtoken0123456789ab"
FINGERPRINT = "[9ad95c]"  # the first 6 hex characters of its SHA-256


class Answer:
    status = "403 Forbidden"
    sent = 58
    headers = [("Content-Type", "application/json"), ("X-Request-ID", "rid-1")]


@pytest.fixture
def shipped(tmp_path):
    """gunicorn's logger as gunicorn.conf.py configures it, writing to files."""

    def start():
        cfg = Config()
        for name, value in runpy.run_path(str(ROOT / "gunicorn.conf.py")).items():
            if name in cfg.settings:
                cfg.set(name, value)
        cfg.set("accesslog", str(tmp_path / "access.log"))
        cfg.set("errorlog", str(tmp_path / "error.log"))
        return cfg.logger_class(cfg)

    return start


def environ(path):
    return {
        "REQUEST_METHOD": "POST",
        "RAW_URI": path,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_USER_AGENT": "zapier",
        "HTTP_REFERER": f"https://example.com/whatsapp/waha/{TOKEN}/",
    }


def written(tmp_path, name):
    return (tmp_path / name).read_text()


def log_a_request(logger):
    request = environ(f"/webhooks/inbound/{TOKEN}/")
    headers = [("AUTHORIZATION", f"Bearer tl_{TOKEN}"), ("X-REQUEST-ID", "rid-1")]
    logger.access(Answer(), headers, request, datetime.timedelta(milliseconds=12))
    logger.error("Error handling request /webhooks/inbound/%s/", TOKEN)


def test_it_writes_readable_lines_without_the_token(shipped, tmp_path):
    log_a_request(shipped())
    access = written(tmp_path, "access.log")
    assert access.startswith(f'203.0.113.9 "POST /webhooks/inbound/{FINGERPRINT}/ HTTP/1.1" 403 58')
    assert "rid=rid-1" in access
    error = written(tmp_path, "error.log")
    assert f"Error handling request /webhooks/inbound/{FINGERPRINT}/" in error
    assert TOKEN not in access + error


def test_it_writes_json_lines_without_the_token(shipped, tmp_path, settings):
    settings.LOG_FORMAT = "json"
    log_a_request(shipped())
    access = json.loads(written(tmp_path, "access.log"))
    assert access["logger"] == "gunicorn.access" and access["level"] == "INFO"
    assert f"/webhooks/inbound/{FINGERPRINT}/" in access["message"]
    error = json.loads(written(tmp_path, "error.log"))
    assert error["logger"] == "gunicorn.error" and error["level"] == "ERROR"
    assert TOKEN not in written(tmp_path, "access.log") + written(tmp_path, "error.log")


def test_a_format_that_prints_every_header_still_hides_the_secrets(shipped, tmp_path):
    logger = shipped()
    logger.cfg.set("access_log_format", '"%(r)s" %(f)s %({authorization}i)s')
    log_a_request(logger)
    assert TOKEN not in written(tmp_path, "access.log")


def test_the_image_and_the_deployment_run_gunicorn_with_this_configuration():
    import yaml

    command = ["gunicorn", "--config", "gunicorn.conf.py", "timelines.wsgi"]
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    assert compose["services"]["app"]["command"] == command
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"CMD {json.dumps(command)}" in dockerfile and "gunicorn.conf.py ./" in dockerfile
    assert runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logger_class"] == (
        "timelines.gunicorn_logs.Logger"
    )
