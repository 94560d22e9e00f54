"""What the app logs and how (SPEC P6, H4).

Secrets stay out of every line: the inbound URL's token, the WAHA events URL's secret, an
attachment link's token and an API token (`tl_…`, or whatever follows `Bearer`) are replaced by a
fingerprint, the first 6 hex characters of the secret's SHA-256 in brackets — enough to tell
which webhook or token it was (their stored digests start with it), useless to call it with.
The whole formatted line is redacted (message, arguments, traceback), so a secret that reaches a
log any way — Django's "Bad Request: <path>", an exception's text — is caught. gunicorn's error
and access logs go through the same formatters (timelines.gunicorn_logs).

LOG_FORMAT=text (the default) writes readable lines; LOG_FORMAT=json one JSON object per line:
time, level, logger, message, the request's id (web) or the task's name (workers), and the
traceback when there is one. A dozen lines of json.dumps: a library would add a dependency and
still need the redaction around it.
"""

import contextvars
import hashlib
import json
import logging
import re
import uuid
from datetime import UTC, datetime

# What a secret may be followed by in a path or a header, whatever quoting the line uses.
_END = r"/\s?#\"'\\<>\[\],;"
_SECRETS = [
    # Bearer first: its token is fingerprinted whole, `tl_` included (the stored digest's input).
    re.compile(rf"(?i)(\bbearer\s+)([^{_END}]+)"),
    re.compile(r"()(\btl_[\w-]{8,})"),
    # The path segment after the inbound and WAHA prefixes, also with its slashes %-encoded.
    re.compile(
        rf"(?i)(/webhooks(?:/|%2f)inbound(?:/|%2f)|/whatsapp(?:/|%2f)waha(?:/|%2f))([^{_END}]+)"
    ),
    # An attachment link: /files/<message id>.<expiry>:<signature>/
    re.compile(r"(/files/)(\d+\.\d+:[\w-]+)"),
]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"

request_id = contextvars.ContextVar("request_id", default="")
task_name = contextvars.ContextVar("task_name", default="")
_VALID_REQUEST_ID = re.compile(r"[\w.-]{1,64}")


def fingerprint(secret):
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()[:6]


def redact(text):
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: f"{m[1]}[{fingerprint(m[2])}]", text)
    return text


class TextFormatter(logging.Formatter):
    """Readable lines: `time LEVEL logger [request id or task] message`, secrets redacted."""

    def __init__(self, fmt=TEXT_FORMAT, datefmt=None, style="%", **kwargs):
        super().__init__(fmt, datefmt, style, **kwargs)

    def format(self, record):
        context = request_id.get() or task_name.get()
        record.context = f" [{context}]" if context else ""
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, secrets redacted."""

    def format(self, record):
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if request_id.get():
            line["request_id"] = request_id.get()
        if task_name.get():
            line["task"] = task_name.get()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(line, ensure_ascii=False, default=str))


class Redacted(logging.Formatter):
    """Another formatter's lines (gunicorn's own text formats), secrets redacted."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def format(self, record):
        return redact(self.inner.format(record))


# -- Who a line is about: the request (web) or the task (workers) -------------------------------


class RequestId:
    """Middleware: the request's id, from X-Request-ID when the proxy (or client) gave a sane one,
    else a new one; on every log line the request causes, and in the answer's X-Request-ID."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        current = given if _VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        # Left set until the request has finished: Django logs a 4xx or 5xx after the
        # middleware has returned (request_finished clears it).
        request_id.set(current)
        response = self.get_response(request)
        response["X-Request-ID"] = current
        return response


def request_finished(**kwargs):
    request_id.set("")


def task_started(sender, func=None, task=None, **kwargs):
    named = (task or {}).get("func", func)
    task_name.set(named if isinstance(named, str) else _name(named))


def task_done(**kwargs):
    task_name.set("")


def _name(func):
    return f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', func)}".strip(".")
