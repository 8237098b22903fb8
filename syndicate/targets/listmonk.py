"""listmonk.

Follows https://listmonk.app/docs/apis/campaigns/ : Basic auth `api_user:token`; a delivery is
`POST /api/campaigns` (a draft), then `PUT /api/campaigns/{id}/status {"status": "running"}`.
The campaign id is recorded before starting it, and a campaign lost by a crash is found again by
its name, which carries the entry id; its status says whether it was already started. Errors
are `{"message": "..."}`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import requests

from .. import content
from ..entry import Entry
from ..mail import render_body
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

STARTED = ("running", "finished", "scheduled", "paused")


class ListmonkTarget(HttpTarget):
    kind = "listmonk"
    newsletter = True
    multi_step = True
    safe_to_resend = True
    options: ClassVar[dict[str, Option]] = {
        "base_url": Option(str, required=True, url=True),
        "username": Option(str, required=True, help="an API user"),
        "token": Option(str, required=True, secret=True),
        "list_ids": Option(list, required=True),
        "template_id": Option(int),
    }

    def auth(self, request: requests.Request) -> None:
        request.auth = (self.opts["username"], self.opts["token"])

    def campaign_name(self, entry: Entry) -> str:
        return f"syndicate {entry.id}: {entry.title}"[:200]

    def campaign(self, entry: Entry) -> dict[str, Any]:
        body = render_body(entry, self.site)
        data: dict[str, Any] = {
            "name": self.campaign_name(entry), "subject": entry.title,
            "lists": [int(i) for i in self.opts["list_ids"]], "type": "regular",
            "content_type": "html", "body": body, "altbody": content.to_text(body),
        }
        if self.opts.get("template_id"):
            data["template_id"] = self.opts["template_id"]
        return data

    def find_campaign(self, entry: Entry) -> dict[str, Any] | None:
        resp = self.call(requests.Request("GET", self.url("/api/campaigns"), params={
            "query": entry.id, "per_page": 100}))
        for c in ((resp.json().get("data") or {}).get("results") or []):
            if str(c.get("name", "")).startswith(f"syndicate {entry.id}:"):
                return dict(c)
        return None

    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        cid = attempt.steps.get("campaign")
        found: dict[str, Any] | None
        if cid:
            found = self.call(requests.Request("GET", self.url(f"/api/campaigns/{cid}"))
                              ).json().get("data")
        else:
            found = self.find_campaign(entry)
        if found is None:
            found = self.call(requests.Request("POST", self.url("/api/campaigns"),
                                               json=self.campaign(entry)), creates=True
                              ).json()["data"]
        cid = str(found["id"])
        attempt.checkpoint("campaign", cid)
        if found.get("status") not in STARTED:
            attempt.on_wire()
            self.call(requests.Request("PUT", self.url(f"/api/campaigns/{cid}/status"),
                                       json={"status": "running"}))
        return DeliveryResult(remote_id=cid, remote_url=self.url(f"/campaigns/{cid}"),
                              adopted=bool(found.get("status") in STARTED))

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.url("/api/campaigns"), json=self.campaign(entry))

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        raise NotImplementedError  # pragma: no cover - `send` is overridden
