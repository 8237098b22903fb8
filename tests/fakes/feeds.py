"""Serves feeds as a blog does: ETag and Last-Modified, 304 to a matching conditional GET,
and scripted faults (a status, garbage bytes) for the next requests."""

from __future__ import annotations

import hashlib
import time
from email.utils import formatdate

from .http import LoopbackServer, Reply, Request


class FeedServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.feeds: dict[str, bytes] = {}
        self.modified: dict[str, float] = {}
        self.faults: list[Reply] = []
        self.hits: dict[str, int] = {}
        self.conditional_hits = 0
        self.honour_etag = True

    def put(self, path: str, body: bytes) -> str:
        with self.lock:
            self.feeds[path] = body
            self.modified[path] = time.time()
        return self.url + path

    def handle(self, request: Request) -> Reply:
        with self.lock:
            self.hits[request.path] = self.hits.get(request.path, 0) + 1
            if self.faults:
                return self.faults.pop(0)
            body = self.feeds.get(request.path)
        if body is None:
            return Reply(404, b"not found", content_type="text/plain")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": formatdate(self.modified[request.path],
                                                             usegmt=True)}
        if self.honour_etag and request.headers.get("If-None-Match") == etag:
            self.conditional_hits += 1
            return Reply(304, b"", headers)
        if body.startswith(b"\x89PNG"):  # an image beside the feeds (a post's picture)
            return Reply(200, body, headers, content_type="image/png")
        ctype = "application/atom+xml" if b"<feed" in body[:2000] else "application/rss+xml"
        return Reply(200, body, headers, content_type=f"{ctype}; charset=UTF-8")
