"""What the real-platform tests share: `Unavailable` and `started` (skip, or fail where CI
requires the real platforms), and a pass-through proxy in front of a real platform (WordPress,
Ghost), so the shared adapter
contract can script what no real server does on demand: a 429, a 500, a write that commits and
then drops the connection, a web server that strips `Authorization`.

`url` is the real site's (the links the platform makes point there); `proxy_url` is what the
target's base URL names; `posts` reads the platform's posts as its test module knows how."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import requests

from .fakes.http import LoopbackServer, Reply, Request

T = TypeVar("T")


class Unavailable(Exception):
    """The real platform cannot run here; the message says what is missing."""


def started(what: str, start: Callable[[], T]) -> T:
    """`start()`'s platform, or a skip with the reason; a failure where CI sets
    SYNDICATE_REQUIRE_REAL_PLATFORMS=1 (it installs them: there they must run)."""
    try:
        return start()
    except Unavailable as exc:
        if os.environ.get("SYNDICATE_REQUIRE_REAL_PLATFORMS") == "1":
            pytest.fail(f"a real {what} is required here and cannot run: {exc}")
        pytest.skip(f"no real {what}: {exc}")


class FaultProxy:
    def __init__(self, backend: str, posts: Callable[[], list[dict[str, Any]]]) -> None:
        self.backend = backend.rstrip("/")
        self._posts = posts
        self.faults: list[Any] = []
        self.writes = 0
        self.strip_authorization = False
        outer = self

        class Forward(LoopbackServer):
            def handle(self, request: Request) -> Reply | None:
                headers = {k: v for k, v in request.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                if outer.strip_authorization:
                    headers.pop("Authorization", None)
                fault = None
                if request.method != "GET":
                    outer.writes += 1
                    fault = outer.faults.pop(0) if outer.faults else None
                    if isinstance(fault, Reply):
                        return fault
                path = request.path + ("?" + request.raw_query if request.raw_query else "")
                resp = requests.request(request.method, outer.backend + path, headers=headers,
                                        data=request.body, timeout=60, allow_redirects=False)
                if fault == "commit-then-drop" and resp.status_code < 300:
                    return None
                reply = Reply(resp.status_code, resp.content,
                              content_type=resp.headers.get("Content-Type"))
                for name in ("X-WP-Total", "X-WP-TotalPages", "Retry-After"):
                    if name in resp.headers:
                        reply.headers[name] = resp.headers[name]
                return reply

        self.server = Forward()

    @property
    def url(self) -> str:
        return self.backend

    @property
    def proxy_url(self) -> str:
        return self.server.url

    @property
    def posts(self) -> list[dict[str, Any]]:
        return self._posts()

    def start(self) -> FaultProxy:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()
