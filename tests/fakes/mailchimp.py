"""Behaves as Mailchimp's Marketing API 3.0 does: Basic `any:KEY`, campaigns created in status
`save`, content set with `PUT`, `actions/send` answering 204 once (400 for a campaign already
sent), problem+json errors."""

from __future__ import annotations

import re
from typing import Any

from .http import Reply, Request
from .platform import Platform

API_KEY = "0123456789abcdef0123456789abcdef-us21"
LIST_ID = "a1b2c3d4e5"


def problem(status: int, title: str, detail: str) -> Reply:
    return Reply(status, {"type": "https://mailchimp.com/developer/marketing/docs/errors/",
                          "title": title, "status": status, "detail": detail,
                          "instance": "5f1c9a2e"}, content_type="application/problem+json")


class MailchimpServer(Platform):
    def __init__(self) -> None:
        super().__init__()
        self.sends = 0

    def handle(self, request: Request) -> Reply | None:
        if request.basic_auth()[1] != API_KEY:
            return problem(401, "API Key Invalid", "Your API key may be invalid, or you've "
                           "attempted to access the wrong datacenter.")
        path = request.path.removeprefix("/3.0")
        if path == "/campaigns" and request.method == "GET":
            return Reply(200, {"campaigns": self.posts, "total_items": len(self.posts)})
        if path == "/campaigns" and request.method == "POST":
            return self.write(request, lambda: self._create(request.json() or {}))
        m = re.fullmatch(r"/campaigns/(\w+)(/content|/actions/send)?", path)
        if not m:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        camp = next((c for c in self.posts if c["id"] == m.group(1)), None)
        if camp is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        if m.group(2) is None and request.method == "GET":
            return Reply(200, camp)
        if m.group(2) == "/content" and request.method == "PUT":
            return self.write(request, lambda: self._content(camp, request.json() or {}))
        if m.group(2) == "/actions/send" and request.method == "POST":
            return self.write(request, lambda: self._send(camp))
        return problem(405, "Method Not Allowed", "")

    def _create(self, data: dict[str, Any]) -> Reply:
        if data.get("type") != "regular":
            return problem(400, "Invalid Resource", "The resource submitted could not be validated.")
        if (data.get("recipients") or {}).get("list_id") != LIST_ID:
            return problem(400, "Invalid Resource", "Invalid list id.")
        settings = data.get("settings") or {}
        for f in ("subject_line", "from_name", "reply_to"):
            if not settings.get(f):
                return problem(400, "Invalid Resource", f"settings.{f} is required.")
        cid = f"c{len(self.posts):09x}"
        camp = {"id": cid, "status": "save", "settings": settings, "content": None,
                "archive_url": f"{self.url}/archive/{cid}"}
        self.posts.append(camp)
        return Reply(200, camp)

    def _content(self, camp: dict[str, Any], data: dict[str, Any]) -> Reply:
        if camp["status"] != "save":
            return problem(400, "Bad Request", "Cannot update the content of a sent campaign.")
        camp["content"] = {"html": data.get("html"), "plain_text": data.get("plain_text")}
        return Reply(200, camp["content"])

    def _send(self, camp: dict[str, Any]) -> Reply:
        if camp["status"] != "save":
            return problem(400, "Bad Request", "This campaign has already been sent.")
        if not camp["content"] or not camp["content"].get("html"):
            return problem(400, "Bad Request", "Your Campaign is not ready to send.")
        camp["status"] = "sent"
        self.sends += 1
        return Reply(204, b"")
