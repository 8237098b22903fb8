"""Behaves as the WordPress core REST API does (developer.wordpress.org/rest-api): Basic auth
with an application password, tags as term ids (`term_exists` on a duplicate), posts by slug,
errors `{"code", "message", "data": {"status"}}`."""

from __future__ import annotations

import re
from typing import Any

from .http import Reply, Request
from .platform import Platform

USER = "sanjay"
APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"


def wp_error(status: int, code: str, message: str, **data: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


class WordpressServer(Platform):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, Any]] = [{"id": 7, "name": "Philosophy", "slug": "philosophy"}]

    def _authed(self, request: Request) -> bool:
        return request.basic_auth() == (USER, APP_PASSWORD.replace(" ", ""))

    def handle(self, request: Request) -> Reply | None:
        if not self._authed(request):
            return wp_error(401, "rest_not_logged_in", "You are not currently logged in.")
        path = request.path.removeprefix("/wp-json/wp/v2")
        if path == "/tags" and request.method == "GET":
            q = request.query.get("search", "").lower()
            return Reply(200, [t for t in self.tags if q in t["name"].lower()])
        if path == "/tags" and request.method == "POST":
            return self._add_tag(request)
        if path == "/posts" and request.method == "GET":
            slug = request.query.get("slug")
            posts = [p for p in self.posts if not slug or p["slug"] == slug]
            return Reply(200, posts, {"X-WP-Total": str(len(posts)), "X-WP-TotalPages": "1"})
        if path == "/posts" and request.method == "POST":
            return self.write(request, lambda: self._save(request, None))
        m = re.fullmatch(r"/posts/(\d+)", path)
        if m and request.method in ("POST", "PUT"):
            return self.write(request, lambda: self._save(request, int(m.group(1))))
        return wp_error(404, "rest_no_route", "No route was found matching the URL and request "
                        "method.")

    def _add_tag(self, request: Request) -> Reply:
        name = ((request.json() or {}).get("name") or "").strip()
        if not name:
            return wp_error(400, "rest_missing_callback_param", "Missing parameter(s): name")
        existing = next((t for t in self.tags if t["name"].lower() == name.lower()), None)
        if existing:
            return wp_error(400, "term_exists", "A term with the name provided already exists "
                            "in this taxonomy.", term_id=existing["id"])
        tag = {"id": 100 + len(self.tags), "name": name,
               "slug": re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")}
        self.tags.append(tag)
        return Reply(201, tag)

    def _save(self, request: Request, pid: int | None) -> Reply:
        data = request.json() or {}
        known = {t["id"] for t in self.tags}
        for tid in data.get("tags") or []:
            if tid not in known:
                return wp_error(400, "rest_invalid_param", "Invalid parameter(s): tags",
                                params={"tags": f"Invalid term ID {tid}."})
        if data.get("status", "draft") not in ("publish", "future", "draft", "pending",
                                               "private"):
            return wp_error(400, "rest_invalid_param", "Invalid parameter(s): status")
        if pid is None:
            if not (data.get("title") or data.get("content")):
                return wp_error(400, "empty_content", "Content, title, and excerpt are empty.")
            pid = 500 + len(self.posts)
            slug = data.get("slug") or f"post-{pid}"
            post = {"id": pid, "slug": slug, "link": f"{self.url}/{slug}/",
                    "guid": {"rendered": f"{self.url}/?p={pid}"}, "status": data.get("status",
                                                                                    "draft")}
            self.posts.append(post)
            status = 201
        else:
            found = next((p for p in self.posts if p["id"] == pid), None)
            if found is None:
                return wp_error(404, "rest_post_invalid_id", "Invalid post ID.")
            post, status = found, 200
        post.update({"title": {"raw": data.get("title", post.get("title", {}).get("raw"))},
                     "content": {"raw": data.get("content", post.get("content", {}).get("raw"))},
                     "tags": data.get("tags", post.get("tags", []))})
        return Reply(status, post)
