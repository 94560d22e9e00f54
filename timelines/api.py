"""The base of the product's machine-facing JSON APIs (the inbound endpoint, the webhooks
management API, the WAHA events URL).

One way to read a body (SPEC P9): chunked or with a Content-Length, at most a limit (413 above
it, however the client framed it), 400 for a body that could not be read, is not JSON or is
nested too deeply. Each API turns a BodyError into its own error shape; none of them reads
`request.body` (which knows neither chunked bodies nor our limits).

And the DRF view base of the first two: the credential is in the URL or a Bearer token, so no
sessions, CSRF, DRF authentication or throttling, no body parsing by DRF, and JSON whatever the
Accept header says."""

import json
import re
from dataclasses import dataclass

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

try:  # the server's own body-reading errors, when it is gunicorn
    from gunicorn.http.errors import ParseException
except ImportError:  # pragma: no cover

    class ParseException(Exception):
        pass


# Deeper than any payload we take: code that walks a parsed value recursively (json.dumps,
# a JSONField) must not meet a RecursionError there.
MAX_DEPTH = 100
# What an HTML form or `curl -d a=b` sends: key=value pairs joined by &.
# Each part stops at the next "&", so matching is linear whatever the body.
FORM_ENCODED = re.compile(r"[\w.%+-]+=[^&]*(?:&[\w.%+-]+=[^&]*)*")


class BodyError(Exception):
    """A body refused before its meaning is looked at: 400 or 413, and words for the client."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Body:
    raw: bytes  # at most limit + 1 bytes: enough to tell that it is too large
    size: int  # as declared by Content-Length, or as read (a chunked body declares none)
    limit: int
    unreadable: str = ""  # why the body could not be read, when it could not

    def refusal(self):
        """The BodyError that refuses this body, or None: 413 over the limit (whatever else is
        wrong with it), 400 when it could not be read to its end."""
        if self.size > self.limit:
            return BodyError(
                413,
                f"The request body is larger than {self.limit // 1024} KB ({self.limit} bytes).",
            )
        if self.unreadable:
            return BodyError(400, f"The request body could not be read ({self.unreadable}).")
        return None


def read_body(request, limit):
    """The body of a Django request, read once, at most `limit` + 1 bytes of it."""
    declared = content_length(request.META.get("CONTENT_LENGTH"))
    unreadable = ""
    try:
        raw = _read(request, declared, limit + 1)
    except (OSError, ValueError, ParseException) as exc:
        # A chunked body with a bad chunk size or terminator, a body that ends before its
        # Content-Length: the server's reader raises; the client gets a 400 that says so.
        raw, unreadable = b"", f"{exc.__class__.__name__}: {str(exc)[:200]}".strip(": ")
    if not unreadable and len(raw) < min(declared, limit + 1):
        # The client stopped sending before the end its Content-Length announced.
        unreadable = f"it ended after {len(raw)} of the {declared} bytes Content-Length announced"
    return Body(raw=raw, size=max(declared, len(raw)), limit=limit, unreadable=unreadable)


def _read(request, declared, limit):
    # Django reads no further than Content-Length, and a chunked request has none: its body would
    # look empty. A server that de-chunks the body and ends the input where the body ends says so
    # with wsgi.input_terminated (gunicorn does); then the input can be read up to the limit.
    # Either stream may hand out less than asked, as a socket does: read until the end.
    chunked = not declared and request.META.get("wsgi.input_terminated")
    stream, chunks, size = request.META["wsgi.input"] if chunked else request, [], 0
    while size < limit and (chunk := stream.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def content_length(value):
    """A Content-Length as a number: trusted for nothing but the 413 decision."""
    text = str(value or "")
    return int(text[:20]) if text.isascii() and text.isdigit() else 0


def parse_json(raw, example):
    """The decoded JSON value of a body, or a 400 that says what is wrong and where; `example`
    is a JSON object the API takes, shown to a client that sent something else."""
    if not raw.strip():
        raise BodyError(400, f"The request body is empty. Send a JSON object, e.g. {example}.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BodyError(400, f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos == 0 and FORM_ENCODED.fullmatch(text.strip()):
            raise BodyError(
                400,
                "The request body is form-encoded (key=value&...), not JSON. Send a JSON object "
                f"with Content-Type: application/json, e.g. {example}.",
            ) from None
        raise BodyError(
            400,
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno} (character {exc.pos}). Check for a missing comma or quote.",
        ) from None
    except RecursionError:  # deeper than the parser goes
        raise _too_deep() from None
    except ValueError as exc:  # a number too long to convert
        raise BodyError(400, f"The request body is not valid JSON: {str(exc)[:200]}.") from None
    if not _within_depth(value):
        raise _too_deep()
    return value


def _too_deep():
    return BodyError(400, f"The request body is nested more than {MAX_DEPTH} levels deep.")


def _within_depth(value):
    """Whether no array or object in `value` is more than MAX_DEPTH levels deep (iteratively: a
    recursive walk is what the limit protects against)."""
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    return False
                stack.append((child, depth + 1))
    return True


def read_json(request, limit, example):
    """The decoded JSON value of a request's body, or the BodyError that refuses it."""
    body = read_body(request, limit)
    refusal = body.refusal()
    if refusal is not None:
        raise refusal
    return parse_json(body.raw, example)


def logged_once(logger, what, response):
    """`response` (a 500 in the API's error shape) to a bug of ours, its traceback logged here
    and nowhere else: Django's request logger would add a second line for the same 500."""
    logger.exception("%s: unexpected error", what)
    response._has_been_logged = True
    return response


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
