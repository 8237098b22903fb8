"""Behaves as Ghost's Admin API (v5) does (ghost.org/docs/admin-api): checks the JWT (HS256
with the hex-decoded secret, `kid`, `aud: /admin/`, `exp` at most 5 minutes after `iat`),
requires `source=html` in the query for HTML, filters by `canonical_url:'…'`, and checks edits
by `updated_at`. The answers are the real Ghost 5.130's, as `tests/test_real_ghost.py` saw them:
an unknown key id is 401 `UNKNOWN_ADMIN_API_KEY`, a bad signature 401 `INVALID_JWT`, a token
that is not a JWT 400 `INVALID_JWT`, no token 403; an edit without `updated_at` is 422, one with
a stale `updated_at` and changed content 409 `UpdateCollisionError` (the same content goes
through); a filter in double quotes is 400."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import jwt

from .http import Reply, Request
from .platform import Platform
from .spec import GhostPostCheck, available

KEY_ID = "6489f1c2a1b2c3d4e5f60718"
SECRET = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
ADMIN_KEY = f"{KEY_ID}:{SECRET}"


def ghost_error(status: int, type_: str, message: str, context: str | None = None,
                code: str | None = None) -> Reply:
    return Reply(status, {"errors": [{"message": message, "type": type_, "context": context,
                                      "code": code}]})


class GhostServer(Platform):
    spec = GhostPostCheck() if available() else None
    def __init__(self) -> None:
        super().__init__()
        self.newsletter_sends: list[tuple[str, str | None]] = []

    def _auth(self, request: Request) -> Reply | None:
        header = request.headers.get("Authorization") or ""
        if not header.startswith("Ghost "):
            return ghost_error(403, "NoPermissionError", "Authorization failed",
                               "Unable to determine the authenticated user or integration.")
        token = header[len("Ghost "):]
        try:
            head = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return ghost_error(400, "BadRequestError", "Invalid token", code="INVALID_JWT")
        if head.get("kid") != KEY_ID:
            return ghost_error(401, "UnauthorizedError", "Unknown Admin API Key",
                               code="UNKNOWN_ADMIN_API_KEY")
        try:
            claims = jwt.decode(token, bytes.fromhex(SECRET), algorithms=["HS256"],
                                audience="/admin/")
            if claims["exp"] - claims["iat"] > 5 * 60:
                raise jwt.InvalidTokenError("exp more than 5 minutes after iat")
        except (jwt.InvalidTokenError, KeyError) as exc:
            return ghost_error(401, "UnauthorizedError", f"Invalid token: {exc}",
                               code="INVALID_JWT")
        if request.headers.get("Accept-Version", "").split(".")[0] != "v5":
            return ghost_error(400, "RequestNotAcceptableError", "Accept-Version v5 expected")
        return None

    def handle(self, request: Request) -> Reply | None:
        denied = self._auth(request)
        if denied:
            return denied
        m = re.fullmatch(r"/ghost/api/admin/posts/(?:([0-9a-f]+)/)?", request.path)
        if not m:
            return ghost_error(404, "NotFoundError", "Resource not found")
        pid = m.group(1)
        if request.method == "GET" and not pid:
            return self._browse(request)
        if request.method == "GET":
            post = self._get(pid)
            return Reply(200, {"posts": [post]}) if post else ghost_error(
                404, "NotFoundError", "Post not found.")
        if request.method == "POST" and not pid:
            return self.write(request, lambda: self._add(request))
        if request.method == "PUT" and pid:
            return self.write(request, lambda: self._edit(request, pid))
        return ghost_error(405, "MethodNotAllowedError", "Method not allowed")

    def _get(self, pid: str) -> dict[str, Any] | None:
        return next((p for p in self.posts if p["id"] == pid), None)

    def _browse(self, request: Request) -> Reply:
        flt = request.query.get("filter", "")
        m = re.fullmatch(r"canonical_url:'((?:[^'\\]|\\.)*)'", flt)
        if flt and not m:
            return ghost_error(400, "BadRequestError",
                               "Request not understood error, cannot list posts.",
                               "Error parsing filter")
        posts = self.posts
        if m:
            want = re.sub(r"\\(.)", r"\1", m.group(1))
            posts = [p for p in posts if p["canonical_url"] == want]
        return Reply(200, {"posts": posts[: int(request.query.get("limit", 15))],
                           "meta": {"pagination": {"total": len(posts)}}})

    def _fields(self, request: Request, data: dict[str, Any]) -> dict[str, Any]:
        html = data.get("html") if request.query.get("source") == "html" else None
        return {"title": data.get("title"), "html": html or "",
                "canonical_url": data.get("canonical_url"), "tags": data.get("tags") or [],
                "feature_image": data.get("feature_image"),
                "custom_excerpt": data.get("custom_excerpt"),
                "published_at": data.get("published_at"),
                "email_only": bool(data.get("email_only"))}

    def _add(self, request: Request) -> Reply:
        data = ((request.json() or {}).get("posts") or [None])[0]
        if not isinstance(data, dict) or not data.get("title"):
            return ghost_error(422, "ValidationError", "Validation error, cannot save post.",
                               "Value in [posts.title] cannot be blank.")
        if len(data.get("custom_excerpt") or "") > 300:
            return ghost_error(422, "ValidationError", "Validation error, cannot save post.",
                               "Value in [posts.custom_excerpt] exceeds maximum length of 300")
        pid = f"{len(self.posts) + 1:024x}"
        slug = re.sub(r"[^a-z0-9]+", "-", data["title"].lower()).strip("-")
        post = {"id": pid, "uuid": f"uuid-{pid}", "slug": slug, "url": f"{self.url}/{slug}/",
                "status": data.get("status", "draft"),
                "updated_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                **self._fields(request, data)}
        self.posts.append(post)
        if request.query.get("newsletter") and post["status"] == "published":
            self.newsletter_sends.append((request.query["newsletter"],
                                          request.query.get("email_segment")))
        return Reply(201, {"posts": [post]})

    def _edit(self, request: Request, pid: str) -> Reply:
        post = self._get(pid)
        if post is None:
            return ghost_error(404, "NotFoundError", "Post not found.")
        data = ((request.json() or {}).get("posts") or [{}])[0]
        if not data.get("updated_at"):
            return ghost_error(422, "ValidationError", "Validation error, cannot edit post.",
                               "Validation failed for posts[0].")
        changed = self._fields(request, data).get("html") not in (None, "", post["html"])
        if data["updated_at"] != post["updated_at"] and changed:
            return ghost_error(409, "UpdateCollisionError",
                               "Saving failed! Someone else is editing this post.",
                               "UPDATE_COLLISION")
        post.update({k: v for k, v in self._fields(request, data).items() if v is not None})
        time.sleep(0.002)
        post["updated_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        return Reply(200, {"posts": [post]})
