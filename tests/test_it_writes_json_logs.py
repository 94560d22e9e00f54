"""SPEC H4: with LOG_FORMAT=json every log line is one JSON object (time, level, logger, message,
and the request's id or the task's name); the default stays readable text with the same
context. (Secrets stay out of both: test_it_keeps_secrets_out_of_logs.py.)"""

import io
import json
import logging

import pytest
from django_q.tasks import async_task

from tests.inbound_helpers import post
from tests.processes import manage
from timelines.logconfig import JsonFormatter, TextFormatter, request_id


@pytest.fixture
def lines():
    """Each line the app's handler writes in JSON, decoded."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def log_from_a_task():
    logging.getLogger("timelines.test").warning("inside a task")


def test_the_settings_switch_every_line_to_json():
    code = "import logging; logging.getLogger('timelines.test').warning('one line')"
    done = manage("shell", "-c", code, DEBUG="true", LOG_FORMAT="json")
    line = json.loads(done.stderr.strip().splitlines()[-1])
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == (
        "WARNING",
        "timelines.test",
        "one line",
    )
    assert line["time"].endswith("+00:00")


def test_the_default_is_readable_text():
    code = "import logging; logging.getLogger('timelines.test').warning('one line')"
    last = manage("shell", "-c", code, DEBUG="true").stderr.strip().splitlines()[-1]
    assert last.endswith(" WARNING timelines.test one line")


def test_an_unknown_format_stops_the_process_with_one_line():
    done = manage("check", DEBUG="true", LOG_FORMAT="xml")
    assert done.returncode != 0 and "LOG_FORMAT must be text or json, not 'xml'" in done.stderr


def test_a_requests_lines_carry_its_id(client, inbound_webhook, lines):
    response = post(client, inbound_webhook, b"{not json")
    warning = next(line for line in lines() if line["logger"] == "django.request")
    assert warning["request_id"] == response["X-Request-ID"] and len(warning["request_id"]) == 32


def test_the_proxys_request_id_is_kept_and_junk_replaced(client, inbound_webhook, lines):
    given = post(client, inbound_webhook, b"{", X_Request_ID="0f1e2d3c4b5a")
    assert given["X-Request-ID"] == "0f1e2d3c4b5a"
    assert [line["request_id"] for line in lines()][-1] == "0f1e2d3c4b5a"
    junk = post(client, inbound_webhook, b"{", X_Request_ID="a b\x01" + "c" * 100)
    assert len(junk["X-Request-ID"]) == 32 and " " not in junk["X-Request-ID"]


def test_a_tasks_lines_carry_its_name(db, lines):
    async_task("tests.test_it_writes_json_logs.log_from_a_task", sync=True)
    logging.getLogger("timelines.test").warning("after the task")
    inside, after = [line for line in lines() if line["logger"] == "timelines.test"]
    assert inside["task"] == "tests.test_it_writes_json_logs.log_from_a_task"
    assert "task" not in after and "request_id" not in after


def test_text_lines_carry_the_same_context():
    record = logging.LogRecord("timelines.test", logging.INFO, "", 0, "hello", (), None)
    request_id.set("rid-42")
    try:
        assert TextFormatter().format(record).endswith(" INFO timelines.test [rid-42] hello")
    finally:
        request_id.set("")
