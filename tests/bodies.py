"""Request bodies as servers hand them to the app: de-chunked (no Content-Length), in short
reads, for the tests of the one body reader (timelines.api, SPEC P9)."""

import io


class Trickle(io.RawIOBase):
    """A de-chunked input that hands out at most `step` bytes per read, like a socket."""

    def __init__(self, data, step=1000):
        self.data, self.step = data, step

    def readable(self):
        return True

    def read(self, size=-1):
        size = self.step if size is None or size < 0 else min(size, self.step)
        piece, self.data = self.data[:size], self.data[size:]
        return piece


def chunked(body, terminated=True):
    """The WSGI environ a server builds for a chunked request: no CONTENT_LENGTH, and (as
    gunicorn does) wsgi.input_terminated when the input ends where the body ends."""
    meta = {"wsgi.input": Trickle(body), "CONTENT_TYPE": "application/json"}
    if terminated:
        meta["wsgi.input_terminated"] = True
    return meta


def nested(depth):
    """A JSON object whose one value is an array `depth` levels deep."""
    return b'{"a": ' + b"[" * depth + b"]" * depth + b"}"


def tracebacks(caplog):
    """The log records that carry a traceback."""
    return [r for r in caplog.records if r.exc_info]
