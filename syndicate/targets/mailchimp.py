"""Mailchimp Marketing API 3.0.

Follows https://mailchimp.com/developer/marketing/api/campaigns/ : Basic auth `any:KEY`, the data
centre from the key's `-dcNN` suffix. A delivery is three calls: create a regular campaign, `PUT`
its content, `POST .../actions/send`. Each step's result is recorded in the ledger before the
next, so a crash in between resumes the same campaign; a crash before the campaign id was
recorded finds the campaign by its title, which carries the entry id. The campaign's status
tells whether a send whose answer was lost went through. Errors are problem+json
`{type, title, status, detail, instance}`.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import requests

from ..config import SiteConfig, TargetConfig
from ..entry import Entry
from ..errors import ConfigError, PermanentError
from ..mail import render_email
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

SENT = ("sending", "sent", "schedule")


class MailchimpTarget(HttpTarget):
    kind = "mailchimp"
    newsletter = True
    multi_step = True
    safe_to_resend = True  # every step can be checked against the campaign's state
    options: ClassVar[dict[str, Option]] = {
        "api_key": Option(str, required=True, secret=True, help="ends in -dcNN"),
        "list_id": Option(str, required=True, help="the audience id"),
        "from_name": Option(str, required=True),
        "reply_to": Option(str, required=True),
        "base_url": Option(str, url=True, help="default: https://<dc>.api.mailchimp.com/3.0"),
    }

    @classmethod
    def check_options(cls, raw: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().check_options(raw, where)
        if not out.get("base_url") and not re.search(r"-[a-z]+\d+$", out["api_key"]):
            raise ConfigError(f"{where}.api_key", "a Mailchimp key ends in its data centre, e.g. "
                              "'-us21' (or set base_url)")
        return out

    def __init__(self, config: TargetConfig, site: SiteConfig) -> None:
        super().__init__(config, site)
        if not self.opts.get("base_url"):
            dc = self.opts["api_key"].rsplit("-", 1)[1]
            self.base_url = f"https://{dc}.api.mailchimp.com/3.0"

    def auth(self, request: requests.Request) -> None:
        request.auth = ("syndicate", self.opts["api_key"])

    def title(self, entry: Entry) -> str:
        return f"syndicate {entry.id}: {entry.title}"[:100]

    def campaign(self, entry: Entry) -> dict[str, Any]:
        return {"type": "regular", "recipients": {"list_id": self.opts["list_id"]},
                "settings": {"subject_line": entry.title[:150], "title": self.title(entry),
                             "from_name": self.opts["from_name"],
                             "reply_to": self.opts["reply_to"],
                             "preview_text": entry.summary and _text(entry.summary)[:140] or ""}}

    def find_campaign(self, entry: Entry) -> dict[str, Any] | None:
        resp = self.call(requests.Request("GET", self.url("/campaigns"), params={
            "count": 1000, "list_id": self.opts["list_id"], "sort_field": "create_time",
            "sort_dir": "DESC", "fields": "campaigns.id,campaigns.status,campaigns.settings.title,"
                                         "campaigns.archive_url"}))
        prefix = f"syndicate {entry.id}:"
        for c in resp.json().get("campaigns") or []:
            if (c.get("settings") or {}).get("title", "").startswith(prefix):
                return dict(c)
        return None

    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        steps = attempt.steps
        campaign_id = steps.get("campaign")
        found = None
        if campaign_id:
            found = self.call(requests.Request("GET", self.url(f"/campaigns/{campaign_id}"))).json()
        else:
            found = self.find_campaign(entry)
            if found:
                attempt.checkpoint("campaign", found["id"])
        if found and found.get("status") in SENT:
            return DeliveryResult(remote_id=found["id"], remote_url=found.get("archive_url") or "",
                                  adopted=True)
        if found is None:
            created = self.call(requests.Request("POST", self.url("/campaigns"),
                                                 json=self.campaign(entry)), creates=True).json()
            found = created
            attempt.checkpoint("campaign", created["id"])
        cid = found["id"]
        if steps.get("content") != "set":
            html, text = render_email(entry, self.site)
            self.call(requests.Request("PUT", self.url(f"/campaigns/{cid}/content"),
                                       json={"html": html, "plain_text": text}))
            attempt.checkpoint("content", "set")
        attempt.on_wire()
        try:
            self.call(requests.Request("POST", self.url(f"/campaigns/{cid}/actions/send")),
                      creates=True)
        except PermanentError as exc:
            # Mailchimp refuses to send a campaign twice; if it already went, that is success.
            state = self.call(requests.Request("GET", self.url(f"/campaigns/{cid}"))).json()
            if state.get("status") not in SENT:
                raise exc from None
        return DeliveryResult(remote_id=cid, remote_url=found.get("archive_url") or "")

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        # Only the first of the three calls is shown by `preview`.
        return requests.Request("POST", self.url("/campaigns"), json=self.campaign(entry))

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        raise NotImplementedError  # pragma: no cover - `send` is overridden



def _text(html: str) -> str:
    from ..identity import plain_text

    return " ".join(plain_text(html).split())
