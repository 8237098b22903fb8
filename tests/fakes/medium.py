"""Behaves as Medium's API does (github.com/Medium/medium-api-docs): Bearer token, `/v1/me`,
`POST /v1/users/{id}/posts`, `{"data": ...}` and `{"errors": [{"message", "code"}]}`."""

from __future__ import annotations

import time

from .http import Reply, Request
from .platform import Platform

TOKEN = "medium-integration-token"
USER_ID = "5303d74c64f66366f00cb9b2a94f3251bf5"


class MediumServer(Platform):
    def __init__(self) -> None:
        super().__init__()
        self.me_calls = 0

    def _err(self, status: int, message: str, code: int) -> Reply:
        return Reply(status, {"errors": [{"message": message, "code": code}]})

    def handle(self, request: Request) -> Reply | None:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._err(401, "An access token is required.", 6000)
        if request.method == "GET" and request.path == "/v1/me":
            self.me_calls += 1
            return Reply(200, {"data": {"id": USER_ID, "username": "sanjay", "name": "Sanjay"}})
        if request.method == "POST" and request.path == f"/v1/users/{USER_ID}/posts":
            return self.write(request, lambda: self._create(request))
        if request.method == "POST" and request.path.startswith("/v1/users/"):
            return self._err(403, "You cannot publish on behalf of another user.", 6026)
        return self._err(404, "Not found", 6001)

    def _create(self, request: Request) -> Reply:
        body = request.json() or {}
        if not body.get("title") or not body.get("content"):
            return self._err(400, "Post must have a title and content.", 6009)
        if body.get("contentFormat") not in ("html", "markdown"):
            return self._err(400, "contentFormat must be html or markdown.", 6009)
        if body.get("publishStatus", "public") not in ("public", "draft", "unlisted"):
            return self._err(400, "Invalid publishStatus.", 6009)
        pid = f"e6f36a{len(self.posts):04d}"
        post = {"id": pid, "title": body["title"][:100], "authorId": USER_ID,
                "tags": (body.get("tags") or [])[:3], "url": f"{self.url}/@sanjay/{pid}",
                "canonicalUrl": body.get("canonicalUrl", ""),
                "publishStatus": body.get("publishStatus", "public"),
                "publishedAt": int(time.time() * 1000), "content": body["content"],
                "contentFormat": body["contentFormat"]}
        self.posts.append(post)
        return Reply(201, {"data": {k: v for k, v in post.items() if k != "content"}})
