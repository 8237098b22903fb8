"""dev.to (Forem API v1).

Follows https://developers.forem.com/api/v1 : `POST /api/articles` with `{"article": {...}}`,
`api-key` header, `Accept: application/vnd.forem.api-v1+json`; `canonical_url` is unique among
published articles (422 if taken); `GET /api/articles/me/all` lists the account's articles, drafts
included, with their `canonical_url`, which is how a copy made before a timeout or a lost Redis is
found and adopted instead of posted again. Titles <= 128 characters; at most 4 lowercase
alphanumeric tags; 429 carries `Retry-After`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import requests

from .. import content, identity
from ..entry import Entry
from ..limiter import RateLimit
from ..verify import Copy
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

ACCEPT = "application/vnd.forem.api-v1+json"
TITLE_MAX = 128
TAGS_MAX = 4
PAGE_SIZE = 1000  # the API's maximum per_page


def devto_tag(tag: str) -> str:
    return re.sub(r"[^a-z0-9]", "", tag.lower())


class DevtoTarget(HttpTarget):
    kind = "devto"
    platform = "dev.to"
    default_base_url = "https://dev.to"
    safe_to_resend = True  # every create is preceded by a lookup by canonical URL
    embed_syntax = "{{% embed {url} %}}"
    can_update = True
    # Forem: writes 1/s, and at most 9 published creates per 30 s (else 429, Retry-After: 30).
    # We count when a request leaves, the platform when it arrives: keep a margin for that.
    rate_limits = (RateLimit(1, 1.25, "write"), RateLimit(9, 33.0, "create"))
    options: ClassVar[dict[str, Option]] = {
        "api_key": Option(str, required=True, secret=True, help="from dev.to/settings/extensions"),
        "base_url": Option(str, default="https://dev.to", url=True),
        "published": Option(bool, default=False),
        "series": Option(str),
        "organization_id": Option(int),
    }

    def auth(self, request: requests.Request) -> None:
        request.headers["api-key"] = self.opts["api_key"]
        request.headers.setdefault("Accept", ACCEPT)

    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        want = identity.normalize_url(entry.link)
        page = 1
        while True:
            resp = self.call(requests.Request(
                "GET", self.url("/api/articles/me/all"),
                params={"page": page, "per_page": PAGE_SIZE}))
            articles = resp.json()
            if not isinstance(articles, list) or not articles:
                return None
            for art in articles:
                if identity.normalize_url(art.get("canonical_url") or "") == want:
                    return DeliveryResult(remote_id=str(art.get("id", "")),
                                          remote_url=art.get("url") or "", adopted=True)
            if len(articles) < PAGE_SIZE:
                return None
            page += 1

    def whoami(self) -> requests.Request:
        return requests.Request("GET", self.url("/api/users/me"))

    def sent_copy(self, entry: Entry) -> Copy:
        return Copy(content.shorten(entry.title, TITLE_MAX), self.body_markdown(entry))

    def read_back(self, remote_id: str) -> Copy | None:
        art = self.call(requests.Request("GET", self.url(f"/api/articles/{remote_id}"))).json()
        return Copy(art.get("title") or "", art.get("body_markdown") or "")

    def article(self, entry: Entry) -> dict[str, Any]:
        art: dict[str, Any] = {
            "title": content.shorten(entry.title, TITLE_MAX),
            "body_markdown": self.body_markdown(entry),
            "published": bool(self.opts.get("published")),
            # One string, comma-separated, as Forem's API description (api_v1.json) has it.
            "tags": ", ".join(self.tags(entry, limit=TAGS_MAX, normalise=devto_tag)),
            "canonical_url": entry.link,
        }
        if entry.image:
            art["main_image"] = entry.image
        if self.opts.get("series"):
            art["series"] = self.opts["series"]
        if self.opts.get("organization_id"):
            art["organization_id"] = self.opts["organization_id"]
        return art

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.url("/api/articles"),
                                json={"article": self.article(entry)},
                                headers={"Content-Type": "application/json"})

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        art = self.article(entry)
        art.pop("published", None)  # an edit never publishes a draft the author kept back
        resp = self.call(requests.Request("PUT", self.url(f"/api/articles/{remote_id}"),
                                          json={"article": art}))
        return self.parse_response(resp, entry)

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        body = resp.json()
        return DeliveryResult(remote_id=str(body.get("id", "")), remote_url=body.get("url") or "")
