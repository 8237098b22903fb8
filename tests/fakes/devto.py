"""A loopback server that behaves as dev.to's Forem API v1 does (facts: shared targets.md).

Checks the `api-key` header; validates `{"article": {...}}` (title <= 128 chars, <= 4 lowercase
alphanumeric tags, canonical_url unique among published articles); answers 201 with `Location`,
422 `{"error", "status"}`, 401, and 429 `Retry-After: 30` past 9 creates in 30 s. Lists the
account's articles at `/api/articles/me/all`. `faults` scripts the next POST answers: a Reply, or
"commit-then-drop" (the article is created, then the connection is closed without an answer).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .http import LoopbackServer, Reply, Request
from .spec import OpenApiCheck, available

API_KEY = "devto-test-key"


class DevtoServer(LoopbackServer):
    # The spec's server URL, only to match request paths against it; nothing is sent there.
    spec = (OpenApiCheck("forem/api_v1.json", "https://dev.to/api", strip="/api")  # never called
            if available() else None)

    def __init__(self, api_key: str = API_KEY, *, rate_limit: bool = True, window: float = 30.0,
                 min_gap: float = 1.0) -> None:
        super().__init__()
        self.api_key = api_key
        self.articles: list[dict[str, Any]] = []
        self.faults: list[Reply | str] = []
        self.creates: list[float] = []
        self.writes_at: list[float] = []
        self.rate_limit = rate_limit
        self.window = window
        self.min_gap = min_gap
        self.posts_seen = 0
        self.rejected = 0

    @property
    def posts(self) -> list[dict[str, Any]]:
        return self.articles

    @property
    def writes(self) -> int:
        return len(self.writes_at)

    def _err(self, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        return Reply(status, {"error": message, "status": status}, headers)

    def handle(self, request: Request) -> Reply | None:
        if request.headers.get("api-key") != self.api_key:
            return self._err(401, "unauthorized")
        if request.method == "GET" and request.path == "/api/articles/me/all":
            page = int(request.query.get("page", 1))
            per = min(int(request.query.get("per_page", 30)), 1000)
            with self.lock:
                mine = list(reversed(self.articles))[(page - 1) * per: page * per]
            return Reply(200, mine)
        if request.method == "GET" and request.path == "/api/users/me":
            return Reply(200, {"type_of": "user", "id": 1, "username": "testuser",
                               "name": "Test User"})
        if request.method == "POST" and request.path == "/api/articles":
            return self._create(request)
        m = re.fullmatch(r"/api/articles/(\d+)", request.path)
        if request.method == "GET" and m:
            art = next((a for a in self.articles if a["id"] == int(m.group(1))), None)
            return Reply(200, art) if art else self._err(404, "not found")
        if request.method == "PUT" and m:
            return self._update(request, int(m.group(1)))
        return self._err(404, "not found")

    def _limited(self, now: float, create: bool) -> Reply | None:
        if not self.rate_limit:
            return None
        recent = [t for t in self.creates if now - t < self.window]
        if (self.writes_at and now - self.writes_at[-1] < self.min_gap) or (
                create and len(recent) >= 9):
            self.rejected += 1
            return self._err(429, "Rate limit reached, try again in 30 seconds",
                             {"Retry-After": str(int(self.window))})
        return None

    def _update(self, request: Request, aid: int) -> Reply | None:
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
            if isinstance(fault, Reply):
                return fault
            limited = self._limited(time.time(), create=False)
            if limited:
                return limited
            self.writes_at.append(time.time())
            art = next((a for a in self.articles if a["id"] == aid), None)
            if art is None:
                return self._err(404, "not found")
            data = (request.json() or {}).get("article") or {}
            for key in ("title", "body_markdown", "tags", "canonical_url", "main_image",
                        "series", "published"):
                if key in data:
                    art[key] = data[key]
            if isinstance(art.get("tags"), str):
                art["tags"] = [t.strip() for t in art["tags"].split(",") if t.strip()]
        return Reply(200, art)

    def _create(self, request: Request) -> Reply | None:
        with self.lock:
            self.posts_seen += 1
            fault = self.faults.pop(0) if self.faults else None
            if isinstance(fault, Reply):
                return fault
            now = time.time()
            limited = self._limited(now, create=True)
            if limited:
                return limited
            try:
                art = (request.json() or {}).get("article")
            except ValueError:
                return self._err(400, "body is not JSON")
            if not isinstance(art, dict):
                return self._err(422, "param is missing or the value is empty: article")
            title = art.get("title") or ""
            if not title:
                return self._err(422, "Title can't be blank")
            if len(title) > 128:
                return self._err(422, "Title is too long (maximum is 128 characters)")
            tags = art.get("tags") or []
            if isinstance(tags, str):  # the documented form: "ai, ml, philosophy"
                tags = [t.strip() for t in tags.split(",") if t.strip()]
            if len(tags) > 4:
                return self._err(422, "Tag list exceed the maximum of 4 tags")
            for tag in tags:
                if not re.fullmatch(r"[a-z0-9]+", tag):
                    return self._err(422, f"Tag {tag} contains non-alphanumeric characters")
            canonical = art.get("canonical_url")
            published = bool(art.get("published", False))
            if canonical and published and any(
                    a["canonical_url"] == canonical and a["published"] for a in self.articles):
                return self._err(422, "Canonical url has already been taken")
            self.creates.append(now)
            self.writes_at.append(now)
            aid = 1000 + len(self.articles)
            slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] + f"-{aid}"
            article = {
                "id": aid, "slug": slug, "url": f"{self.url}/testuser/{slug}",
                "canonical_url": canonical or f"{self.url}/testuser/{slug}",
                "published": published, "published_at": None, "title": title,
                "tags": tags, "body_markdown": art.get("body_markdown") or "",
                "main_image": art.get("main_image"), "series": art.get("series"),
            }
            self.articles.append(article)
        if fault == "commit-then-drop":
            return None
        return Reply(201, article, {"Location": article["url"]})
