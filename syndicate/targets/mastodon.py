"""Mastodon: a status with the title, a short excerpt and the link home.

Follows https://docs.joinmastodon.org/methods/statuses/ : `POST /api/v1/statuses` with an
`Idempotency-Key` (the server keeps it an hour and answers a repeat with the first status, so
a retry after a timeout never posts twice), `PUT /api/v1/statuses/:id` to edit (Mastodon 3.5+),
`GET /api/v1/statuses/:id/source` to read the text back. The length limit is the instance's own
(`GET /api/v2/instance`: `configuration.statuses.max_characters`), and every URL counts as
`characters_reserved_per_url` (23), as Mastodon counts it. 422 is final with the instance's
message; 429 waits until `X-RateLimit-Reset`.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any, ClassVar

import requests

from .. import content
from ..entry import Entry
from ..identity import plain_text
from ..verify import Copy
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

DEFAULT_TEMPLATE = "{title}\n\n{excerpt}\n\n{link}"
URL_LENGTH = 23


class MastodonTarget(HttpTarget):
    kind = "mastodon"
    platform = "Mastodon"
    idempotency_key = True  # Idempotency-Key: the server itself refuses a second status
    safe_to_resend = True
    can_update = True
    options: ClassVar[dict[str, Option]] = {
        "base_url": Option(str, required=True, url=True, help="the instance, e.g. "
                           "https://mastodon.social"),
        "token": Option(str, required=True, secret=True, help="an app token with write:statuses"),
        "visibility": Option(str, default="public", choices=("public", "unlisted", "private")),
        "language": Option(str),
        "template": Option(str, help="{title}, {excerpt}, {link}"),
    }

    _limits: tuple[int, int] | None = None

    def auth(self, request: requests.Request) -> None:
        request.headers = {**(request.headers or {}), "Authorization": f"Bearer {self.opts['token']}"}

    def whoami(self) -> requests.Request:
        return requests.Request("GET", self.url("/api/v1/accounts/verify_credentials"))

    def limits(self) -> tuple[int, int]:
        """(max_characters, characters_reserved_per_url) of this instance, asked once."""
        if self._limits is None:
            try:
                conf = (self.call(requests.Request("GET", self.url("/api/v2/instance"))).json()
                        .get("configuration") or {}).get("statuses") or {}
                self._limits = (int(conf.get("max_characters") or 500),
                                int(conf.get("characters_reserved_per_url") or URL_LENGTH))
            except (ValueError, TypeError):
                self._limits = (500, URL_LENGTH)
        return self._limits

    def text(self, entry: Entry, *, limit: int | None = None, url_length: int = URL_LENGTH) -> str:
        """The status, fitted to the instance's limit with the link counted as Mastodon does:
        the excerpt gives way first, then the title; the link home is always whole."""
        if limit is None:
            limit, url_length = self.limits()
        template = self.opts.get("template") or DEFAULT_TEMPLATE

        def render(title: str, excerpt: str) -> str:
            text = template.format(title=title, excerpt=excerpt, link=entry.link)
            return re.sub(r"\n{3,}", "\n\n", text).strip()

        def size(text: str) -> int:
            return len(text) - len(entry.link) + url_length

        excerpt = " ".join(plain_text(entry.summary or entry.content_html).split())
        room = limit - size(render(entry.title, ""))
        if room >= 0:
            fitted = content.shorten(excerpt, room - 2) if room > 20 else ""
            return render(entry.title, fitted)
        return render(content.shorten(entry.title, max(2, len(entry.title) + room)), "")

    def body(self, entry: Entry) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.text(entry),
                                "visibility": self.opts.get("visibility") or "public"}
        if self.opts.get("language"):
            body["language"] = self.opts["language"]
        return body

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.url("/api/v1/statuses"), json=self.body(entry),
                                headers={"Idempotency-Key": attempt.idempotency_key})

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        status = resp.json()
        return DeliveryResult(remote_id=str(status.get("id", "")),
                              remote_url=status.get("url") or status.get("uri") or "")

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        body = self.body(entry)
        body.pop("visibility")  # an edit cannot change who sees it
        resp = self.call(requests.Request("PUT", self.url(f"/api/v1/statuses/{remote_id}"),
                                          json=body))
        return self.parse_response(resp, entry)

    def sent_copy(self, entry: Entry) -> Copy:
        return Copy("", self.text(entry))

    def read_back(self, remote_id: str) -> Copy | None:
        source = self.call(requests.Request("GET", self.url(
            f"/api/v1/statuses/{remote_id}/source"))).json()
        return Copy("", str(source.get("text") or ""))

    def check(self, resp: requests.Response, prepared: requests.PreparedRequest) -> None:
        if resp.status_code == 429 and "Retry-After" not in resp.headers:
            reset = resp.headers.get("X-RateLimit-Reset")
            if reset:  # Mastodon says when, as an ISO 8601 time, not how long
                try:
                    when = datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp()
                except ValueError:
                    when = 0.0
                if when:
                    resp.headers["Retry-After"] = str(max(1, int(when - time.time())))
        super().check(resp, prepared)
