"""A signed JSON POST of the entry to any URL: the way to reach anything syndicate has no adapter
for. Signed with the Standard Webhooks scheme (https://www.standardwebhooks.com/); the `webhook-id`
is the same on every retry of one (entry, target), so a receiver that follows the scheme (dedupe on
`webhook-id`) never acts twice."""

from __future__ import annotations

import json
from typing import ClassVar

import requests

from .. import signing
from ..config import SiteConfig, TargetConfig, webhook_secret
from ..entry import Entry
from ..errors import ConfigError
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option


class WebhookTarget(HttpTarget):
    kind = "webhook"
    safe_to_resend = True  # receivers dedupe on webhook-id, as the scheme requires
    idempotency_key = True
    options: ClassVar[dict[str, Option]] = {
        "url": Option(str, required=True, url=True),
        "secret": Option(str, required=True, secret=True, help="'whsec_' + base64"),
        "headers": Option(dict, default=None),
    }

    def __init__(self, config: TargetConfig, site: SiteConfig) -> None:
        super().__init__(config, site)
        secret = webhook_secret(self.opts["secret"], f"targets[{self.name}].secret")
        if secret is None:
            raise ConfigError(f"targets[{self.name}].secret", "is required")
        self.secret = secret

    def payload(self, entry: Entry) -> dict[str, object]:
        return {
            "type": "entry.published",
            "entry": {
                "id": entry.id,
                "source": entry.source,
                "guid": entry.guid,
                "title": entry.title,
                "link": entry.link,
                "canonical_url": entry.link,
                "published": entry.published,
                "updated": entry.updated,
                "author": entry.author,
                "categories": entry.categories,
                "image": entry.image,
                "content_html": entry.content_html,
                "summary": entry.summary,
                "excerpt_only": entry.excerpt_only,
            },
        }

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        body = json.dumps(self.payload(entry), ensure_ascii=False).encode()
        hdrs = {"Content-Type": "application/json", **(self.opts.get("headers") or {})}
        hdrs.update(signing.headers(self.secret, "msg_" + attempt.idempotency_key, body))
        return requests.Request("POST", self.opts["url"], data=body, headers=hdrs)

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        remote_id = remote_url = ""
        if resp.headers.get("Content-Type", "").startswith("application/json"):
            try:
                body = resp.json()
                if isinstance(body, dict):
                    remote_id = str(body.get("id") or "")
                    remote_url = str(body.get("url") or "")
            except ValueError:
                pass
        return DeliveryResult(remote_id=remote_id, remote_url=remote_url or resp.headers.get(
            "Location", ""))
