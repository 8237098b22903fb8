"""A small threaded HTTP server on 127.0.0.1 for the loopback fakes."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bench.faults.harness import QuietServer


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.raw_query = parts.query
        self.headers = handler.headers
        self.body = body

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def basic_auth(self) -> tuple[str, str]:
        """(user, password) of a Basic Authorization header, or two empty strings."""
        header = self.headers.get("Authorization") or ""
        if not header.startswith("Basic "):
            return "", ""
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return user, password


class Reply:
    def __init__(self, status: int = 200, body: bytes | str | Any = b"",
                 headers: dict[str, str] | None = None, content_type: str | None = None) -> None:
        self.status = status
        self.headers = dict(headers or {})
        if isinstance(body, bytes):
            self.body = body
        elif isinstance(body, str):
            self.body = body.encode()
        else:
            self.body = json.dumps(body).encode()
            content_type = content_type or "application/json; charset=utf-8"
        if content_type:
            self.headers.setdefault("Content-Type", content_type)


class LoopbackServer:
    """Subclasses implement `handle(request) -> Reply`. `url` is its base URL. A stand-in with a
    `spec` (fakes/spec.py) checks every request against its platform's API description."""

    spec: Any = None

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                outer.requests_seen += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self, body)
                if outer.spec is not None:
                    try:
                        outer.spec_errors += outer.spec.errors(request)
                    except Exception as exc:  # the checker's own failure fails the test too
                        outer.spec_errors.append(f"spec check failed: {exc!r}"[:400])
                reply = outer.handle(request)
                if reply is None:  # the fake chose to drop the connection
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        # What the platform's published API description says of the requests received.
        self.spec_errors: list[str] = []
        self.lock = threading.Lock()
        self.requests_seen = 0
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> LoopbackServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, request: Request) -> Reply | None:
        raise NotImplementedError


class FormRecorder(LoopbackServer):
    """Records each form-encoded POST (a WebSub hub, say) and answers `status`."""

    def __init__(self, status: int = 202) -> None:
        super().__init__()
        self.status = status
        self.forms: list[dict[str, list[str]]] = []

    def handle(self, request: Request) -> Reply:
        self.forms.append(parse_qs(request.body.decode()))
        return Reply(self.status, b"")
