"""WordPress (core REST API).

Follows https://developer.wordpress.org/rest-api/reference/posts/ and
https://developer.wordpress.org/rest-api/reference/tags/ : Basic auth with an application
password; tags are term ids, so missing tags are created first (`POST /wp/v2/tags`); a post is
created with `POST /wp-json/wp/v2/posts` and edited with `POST /wp-json/wp/v2/posts/{id}`.
Core has no canonical-URL field, so the post carries the slug of the original and its link in
the footer, and an existing copy is found by that slug.
"""

from __future__ import annotations

import html
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from ..entry import Entry
from ..errors import PermanentError
from .base import Attempt, DeliveryResult, HttpTarget, Option


def slug_for(entry: Entry) -> str:
    """The original's own slug: the last segment of its URL, without `.html`."""
    path = urlsplit(entry.link).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    last = re.sub(r"\.html?$", "", last)
    if not last or last.isdigit():
        last = entry.title
    return re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:190]


class WordpressTarget(HttpTarget):
    kind = "wordpress"
    safe_to_resend = True  # looked up by slug before creating
    can_update = True
    options: ClassVar[dict[str, Option]] = {
        "base_url": Option(str, required=True, url=True, help="the site, e.g. https://blog.example"),
        "username": Option(str, required=True),
        "app_password": Option(str, required=True, secret=True,
                               help="Users > Profile > Application Passwords"),
        "status": Option(str, default="publish",
                         choices=("publish", "future", "draft", "pending", "private")),
    }

    def auth(self, request: requests.Request) -> None:
        request.auth = (self.opts["username"], self.opts["app_password"].replace(" ", ""))

    def api(self, path: str) -> str:
        return self.url("/wp-json/wp/v2" + path)

    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        resp = self.call(requests.Request("GET", self.api("/posts"), params={
            "slug": slug_for(entry), "status": "publish,future,draft,pending,private",
            "context": "edit", "_fields": "id,link,slug"}))
        posts = resp.json()
        if not posts:
            return None
        return DeliveryResult(remote_id=str(posts[0]["id"]), remote_url=posts[0].get("link", ""),
                              adopted=True)

    def tag_ids(self, entry: Entry, *, preview: bool = False) -> list[int | str]:
        ids: list[int | str] = []
        for name in self.tags(entry, limit=20, normalise=str.strip):
            if preview:
                ids.append(f"{{id of tag {name!r}, created if missing}}")
                continue
            resp = self.call(requests.Request("GET", self.api("/tags"), params={
                "search": name, "per_page": 100, "_fields": "id,name"}))
            match = next((t for t in resp.json() if t["name"].lower() == name.lower()), None)
            if match is None:
                try:
                    created = self.call(requests.Request("POST", self.api("/tags"),
                                                         json={"name": name}))
                    match = created.json()
                except PermanentError as exc:
                    # Another worker created it a moment ago: WordPress says which term it is.
                    body = exc.response.json() if exc.response is not None else {}
                    if body.get("code") != "term_exists":
                        raise
                    match = {"id": body["data"]["term_id"]}
            ids.append(int(match["id"]))
        return ids

    def post(self, entry: Entry, *, preview: bool = False) -> dict[str, Any]:
        # WordPress keeps and shows a title as HTML: a feed's plain-text title is escaped.
        return {"title": html.escape(entry.title, quote=False), "content": self.body_html(entry),
                "slug": slug_for(entry),
                "status": self.opts["status"], "tags": self.tag_ids(entry, preview=preview)}

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.api("/posts"),
                                json=self.post(entry, preview=attempt.preview))

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        body = resp.json()
        return DeliveryResult(remote_id=str(body.get("id", "")), remote_url=body.get("link") or "")

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        post = self.post(entry)
        post.pop("status")
        resp = self.call(requests.Request("POST", self.api(f"/posts/{remote_id}"), json=post))
        return self.parse_response(resp, entry)
