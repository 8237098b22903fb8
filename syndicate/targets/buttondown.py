"""Buttondown.

Follows https://docs.buttondown.com/api-emails-create : `POST /v1/emails` with
`Authorization: Token KEY`. The `status` is always sent: left out, Buttondown's default is
`about_to_send` and the email goes out. Every request carries `X-Idempotency-Key`, derived from
(entry, target), and Buttondown answers a replay with the first response, so a retry after a
timeout can never send twice. Errors: 400 `{"code", "detail"}`, 422 for unknown fields, 429 with
`Retry-After`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from ..entry import Entry
from ..mail import render_body
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

STATUS = {"draft": "draft", "send": "about_to_send"}


class ButtondownTarget(HttpTarget):
    kind = "buttondown"
    newsletter = True
    default_base_url = "https://api.buttondown.com"
    safe_to_resend = True  # the idempotency key makes a replay harmless
    idempotency_key = True
    options: ClassVar[dict[str, Option]] = {
        "api_key": Option(str, required=True, secret=True),
        "base_url": Option(str, default="https://api.buttondown.com", url=True),
        "status": Option(str, default="draft", choices=("draft", "send")),
    }

    def auth(self, request: requests.Request) -> None:
        request.headers["Authorization"] = f"Token {self.opts['api_key']}"

    def email(self, entry: Entry) -> dict[str, Any]:
        return {
            "subject": entry.title,
            "body": render_body(entry, self.site),
            "status": STATUS[self.opts["status"]],
            "canonical_url": entry.link,
        }

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.url("/v1/emails"), json=self.email(entry), headers={
            "X-Idempotency-Key": f"syndicate-{attempt.idempotency_key}"})

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        body = resp.json()
        return DeliveryResult(remote_id=str(body.get("id", "")),
                              remote_url=body.get("absolute_url") or "")
