"""Behaves as the WordPress core REST API does (developer.wordpress.org/rest-api), including what
a real WordPress 6.1 showed and a simpler stand-in had missed: Basic auth with an application
password, and a wrong or missing one treated as an anonymous visitor (so `context=edit` and
non-public statuses answer 400 `rest_invalid_param` with the 401 nested in `data.details`, and
writes answer 401); unique slugs (`thanatos`, `thanatos-2`); `search=` over title and content;
`GET /users/me`; `GET /posts/{id}`; `date_gmt`; tags as term ids (`term_exists` on a
duplicate); errors `{"code", "message", "data": {"status"}}`. With `author_role` the account
lacks `unfiltered_html`, and iframes are stripped from what it saves, as WordPress does."""

from __future__ import annotations

import re
from typing import Any

from .http import Reply, Request
from .platform import Platform

USER = "sanjay"
APP_PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"
_IFRAME = re.compile(r"<iframe\b[^>]*>.*?</iframe>", re.S | re.I)


def wp_error(status: int, code: str, message: str, **data: Any) -> Reply:
    return Reply(status, {"code": code, "message": message, "data": {"status": status, **data}})


def _anonymous_status_error() -> Reply:
    return wp_error(400, "rest_invalid_param", "Invalid parameter(s): status",
                    params={"status": "Status is forbidden."},
                    details={"status": {"code": "rest_forbidden_status",
                                        "message": "Status is forbidden.",
                                        "data": {"status": 401}}})


class WordpressServer(Platform):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[dict[str, Any]] = [{"id": 7, "name": "Philosophy", "slug": "philosophy"}]
        self.author_role = False  # no unfiltered_html: iframes are stripped on save

    def _authed(self, request: Request) -> bool:
        return request.basic_auth() == (USER, APP_PASSWORD.replace(" ", ""))

    def handle(self, request: Request) -> Reply | None:
        authed = self._authed(request)
        path = request.path.removeprefix("/wp-json/wp/v2")
        if path == "/users/me":
            if not authed:
                return wp_error(401, "rest_not_logged_in", "You are not currently logged in.")
            return Reply(200, {"id": 1, "name": USER})
        if path == "/tags" and request.method == "GET":
            q = request.query.get("search", "").lower()
            return Reply(200, [t for t in self.tags if q in t["name"].lower()])
        if path == "/tags" and request.method == "POST":
            if not authed:
                return wp_error(401, "rest_cannot_create", "Sorry, you are not allowed to create "
                                "terms in this taxonomy.")
            return self._add_tag(request)
        if path == "/posts" and request.method == "GET":
            return self._list(request, authed)
        if path == "/posts" and request.method == "POST":
            if not authed:
                return wp_error(401, "rest_cannot_create", "Sorry, you are not allowed to create "
                                "posts as this user.")
            return self.write(request, lambda: self._save(request, None))
        m = re.fullmatch(r"/posts/(\d+)", path)
        if m and request.method == "GET":
            post = next((p for p in self.posts if p["id"] == int(m.group(1))), None)
            if post is None:
                return wp_error(404, "rest_post_invalid_id", "Invalid post ID.")
            if not authed and request.query.get("context") == "edit":
                return wp_error(401, "rest_forbidden_context", "Sorry, you are not allowed to "
                                "edit this post.")
            return Reply(200, post)
        if m and request.method in ("POST", "PUT"):
            if not authed:
                return wp_error(401, "rest_cannot_edit", "Sorry, you are not allowed to edit "
                                "this post.")
            return self.write(request, lambda: self._save(request, int(m.group(1))))
        return wp_error(404, "rest_no_route", "No route was found matching the URL and request "
                        "method.")

    def _list(self, request: Request, authed: bool) -> Reply:
        statuses = request.query.get("status", "publish").split(",")
        if not authed and (request.query.get("context") == "edit" or statuses != ["publish"]):
            return _anonymous_status_error()
        slug = request.query.get("slug")
        search = request.query.get("search", "").lower()
        posts = [p for p in self.posts if p.get("status") in statuses
                 and (not slug or p["slug"] == slug)
                 and (not search or search in (p["title"]["raw"] or "").lower()
                      or search in (p["content"]["raw"] or "").lower())]
        return Reply(200, posts, {"X-WP-Total": str(len(posts)), "X-WP-TotalPages": "1"})

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

    def _unique_slug(self, slug: str, pid: int) -> str:
        taken = {p["slug"] for p in self.posts if p["id"] != pid}
        if slug not in taken:
            return slug
        n = 2
        while f"{slug}-{n}" in taken:
            n += 1
        return f"{slug}-{n}"

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
        if "date_gmt" in data and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d",
                                                    str(data["date_gmt"])):
            return wp_error(400, "rest_invalid_param", "Invalid parameter(s): date_gmt",
                            params={"date_gmt": "Invalid date."})
        if pid is None:
            if not (data.get("title") or data.get("content")):
                return wp_error(400, "empty_content", "Content, title, and excerpt are empty.")
            pid = 500 + len(self.posts)
            post: dict[str, Any] = {
                "id": pid, "slug": self._unique_slug(data.get("slug") or f"post-{pid}", pid),
                "guid": {"rendered": f"{self.url}/?p={pid}"},
                "status": data.get("status", "draft"), "title": {"raw": ""},
                "content": {"raw": ""}}
            post["link"] = f"{self.url}/{post['slug']}/"
            self.posts.append(post)
            status = 201
        else:
            found = next((p for p in self.posts if p["id"] == pid), None)
            if found is None:
                return wp_error(404, "rest_post_invalid_id", "Invalid post ID.")
            post, status = found, 200
        content = data.get("content", post["content"]["raw"])
        if self.author_role and content:
            content = _IFRAME.sub("", content)
        post.update({"title": {"raw": data.get("title", post["title"]["raw"])},
                     "content": {"raw": content},
                     "tags": data.get("tags", post.get("tags", [])),
                     "date_gmt": data.get("date_gmt", post.get("date_gmt"))})
        return Reply(status, post)
