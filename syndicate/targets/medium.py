"""Medium.

Follows https://github.com/Medium/medium-api-docs : `GET /v1/me` for the author id, then
`POST /v1/users/{authorId}/posts` (or `/v1/publications/{id}/posts`) with `title`,
`contentFormat`, `content`, `tags` (first 3, <= 25 characters each), `canonicalUrl` and
`publishStatus`; answers `201 {"data": {...}}`, errors `{"errors": [{"message", "code"}]}`.

Medium no longer issues integration tokens; existing ones still work. Its API can neither list
an author's posts nor take an idempotency key, so a timeout after sending cannot be checked: the
delivery becomes `unknown` and waits for `syndicate resolve`. Posts cannot be edited through it.
"""

from __future__ import annotations

import html
from typing import Any, ClassVar

import requests

from .. import content
from ..entry import Entry
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

TITLE_MAX = 100
TAGS_MAX = 3
TAG_LEN = 25


class MediumTarget(HttpTarget):
    kind = "medium"
    default_base_url = "https://api.medium.com"
    safe_to_resend = False
    options: ClassVar[dict[str, Option]] = {
        "token": Option(str, required=True, secret=True,
                        help="an integration token (Medium issues no new ones)"),
        "base_url": Option(str, default="https://api.medium.com", url=True),
        "publish_status": Option(str, default="public", choices=("public", "draft", "unlisted")),
        "publication_id": Option(str),
        "notify_followers": Option(bool, default=False),
    }
    _author_id: str | None = None

    def auth(self, request: requests.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.opts['token']}"
        request.headers.setdefault("Accept", "application/json")

    def author_id(self) -> str:
        if self._author_id is None:
            resp = self.call(requests.Request("GET", self.url("/v1/me")))
            self._author_id = str(resp.json()["data"]["id"])
        return self._author_id

    def post(self, entry: Entry) -> dict[str, Any]:
        title = content.shorten(entry.title, TITLE_MAX)
        # Medium takes the first heading of the content as the title it shows.
        body = f"<h1>{html.escape(title)}</h1>\n{self.body_html(entry)}"
        tags = self.tags(entry, limit=TAGS_MAX, normalise=lambda t: t.strip()[:TAG_LEN].strip())
        return {
            "title": title,
            "contentFormat": "html",
            "content": body,
            "tags": tags,
            "canonicalUrl": entry.link,
            "publishStatus": self.opts["publish_status"],
            "notifyFollowers": bool(self.opts.get("notify_followers")),
        }

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        if self.opts.get("publication_id"):
            path = f"/v1/publications/{self.opts['publication_id']}/posts"
        else:
            author = "{authorId from GET /v1/me}" if attempt.preview else self.author_id()
            path = f"/v1/users/{author}/posts"
        return requests.Request("POST", self.url(path), json=self.post(entry))

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        data = resp.json().get("data") or {}
        return DeliveryResult(remote_id=str(data.get("id", "")), remote_url=data.get("url") or "")
