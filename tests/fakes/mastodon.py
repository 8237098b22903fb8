"""Behaves as a Mastodon instance's API does (docs.joinmastodon.org/methods/statuses): Bearer
token, `POST /api/v1/statuses` with `Idempotency-Key` (a repeat answers the first status),
the instance's `max_characters` with every URL counted as 23, 422 `{"error"}` on a status too
long or empty, `PUT /api/v1/statuses/:id`, `GET .../source`, `GET /api/v2/instance`,
`GET /api/v1/accounts/verify_credentials`, and 429 with `X-RateLimit-Reset`. Every request is
checked against the community OpenAPI description (`shared/specs/mastodon`)."""

from __future__ import annotations

import re
from typing import Any

from .http import Reply, Request
from .platform import Platform
from .spec import OpenApiCheck, available

TOKEN = "mastodon-app-token-0123456789"
MAX = 500
_URL = re.compile(r"https?://\S+")


def counted(text: str) -> int:
    return len(_URL.sub("x" * 23, text))


class MastodonServer(Platform):
    spec = (OpenApiCheck("mastodon/schema.json", "https://mastodon.example")
            if available() else None)

    def __init__(self) -> None:
        super().__init__()
        self.keys: dict[str, dict[str, Any]] = {}

    def handle(self, request: Request) -> Reply | None:
        if request.path == "/api/v2/instance":
            return Reply(200, {"domain": "mastodon.example", "configuration": {"statuses": {
                "max_characters": MAX, "characters_reserved_per_url": 23}}})
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"error": "The access token is invalid"})
        if request.path == "/api/v1/accounts/verify_credentials":
            return Reply(200, {"id": "1", "username": "sanjay", "acct": "sanjay"})
        if request.path == "/api/v1/statuses" and request.method == "POST":
            key = request.headers.get("Idempotency-Key") or ""
            if key and key in self.keys:
                return Reply(200, self.keys[key])  # the first answer, again
            return self.write(request, lambda: self._create(request, key))
        m = re.fullmatch(r"/api/v1/statuses/(\d+)(/source)?", request.path)
        if m:
            post = next((p for p in self.posts if p["id"] == m.group(1)), None)
            if post is None:
                return Reply(404, {"error": "Record not found"})
            if request.method == "GET":
                return Reply(200, {"id": post["id"], "text": post["text"], "spoiler_text": ""}
                             if m.group(2) else post)
            if request.method == "PUT":
                return self.write(request, lambda: self._edit(request, post))
        return Reply(404, {"error": "Record not found"})

    def _valid(self, text: str) -> Reply | None:
        if not text.strip():
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if counted(text) > MAX:
            return Reply(422, {"error": f"Validation failed: Text character limit of {MAX} "
                                        "exceeded"})
        return None

    def _create(self, request: Request, key: str) -> Reply:
        data = request.json() or {}
        text = str(data.get("status") or "")
        invalid = self._valid(text)
        if invalid:
            return invalid
        sid = str(110000 + len(self.posts))
        post = {"id": sid, "url": f"{self.url}/@sanjay/{sid}", "text": text,
                "content": "<p>" + text + "</p>", "visibility": data.get("visibility", "public"),
                "language": data.get("language")}
        self.posts.append(post)
        if key:
            self.keys[key] = post
        return Reply(200, post)

    def _edit(self, request: Request, post: dict[str, Any]) -> Reply:
        text = str((request.json() or {}).get("status") or "")
        invalid = self._valid(text)
        if invalid:
            return invalid
        post.update({"text": text, "content": "<p>" + text + "</p>"})
        return Reply(200, post)
