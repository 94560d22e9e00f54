"""A real file server on 127.0.0.1 for the media tests: it records every request (path and
headers) and answers each path the way the test tells it — a file, or a hostile answer (a
Content-Length that lies, a body that never ends, a huge body, a web page)."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FileServer:
    def __init__(self):
        self.files = {}  # path -> (content type, bytes)
        self.hostile = {}  # path -> "short" | "stalls" | "endless" | "html"
        self.requests = []  # (path, headers)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def host(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def headers_seen(self):
        return [headers for _, headers in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        files = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                files.requests.append((self.path, dict(self.headers)))
                kind = files.hostile.get(self.path)
                try:
                    if kind:
                        getattr(self, "_" + kind)()
                    elif self.path in files.files:
                        self._send(200, *files.files[self.path])
                    else:
                        self._send(404, "text/plain", b"not found")
                except OSError:
                    pass  # the client gave up, as it should

            def _send(self, status, content_type, data, length=None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data) if length is None else length))
                self.end_headers()
                self.wfile.write(data)

            def _short(self):  # announces more than it sends, then closes
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", "5000")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"\xff\xd8 only a little")
                self.close_connection = True

            def _stalls(self):  # a byte now and then, for ever
                self._headers("image/jpeg", "1000000")
                for _ in range(600):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)

            def _endless(self):  # a body with no length that never ends (10 GB and more)
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"\0" * 65536
                for _ in range(10 * 1024 * 16):
                    self.wfile.write(chunk)

            def _html(self):
                self._send(200, "text/html", b"<!doctype html><title>Sign in</title>")

            def _headers(self, content_type, length):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", length)
                self.end_headers()

            def log_message(self, *args):
                pass

        return Handler
