"""Behaves as Buttondown's API does (docs.buttondown.com): `Authorization: Token KEY`,
`POST /v1/emails` with `status` defaulting to `about_to_send` (it sends!), 422 for unknown
fields, 400 `{"code", "detail"}`, and `X-Idempotency-Key` replay answering the first response."""

from __future__ import annotations

import json
import uuid

from .http import Reply, Request
from .platform import Platform
from .spec import OpenApiCheck, available

API_KEY = "buttondown-key"
FIELDS = {"subject", "body", "status", "publish_date", "canonical_url", "slug", "description",
          "email_type", "metadata", "secondary_id"}


class ButtondownServer(Platform):
    spec = (OpenApiCheck("buttondown/openapi.json",
                         "https://api.buttondown.com/v1", strip="/v1")  # spec server: matched, never called
            if available() else None)
    def __init__(self) -> None:
        super().__init__()
        self.replays: dict[str, Reply] = {}
        self.sent: list[dict[str, object]] = []  # emails that went out to subscribers

    def handle(self, request: Request) -> Reply | None:
        if request.headers.get("Authorization") != f"Token {API_KEY}":
            return Reply(401, {"detail": "Invalid token."})
        if request.method == "POST" and request.path == "/v1/emails":
            key = request.headers.get("X-Idempotency-Key")
            if key and len(key) > 200:
                return Reply(400, {"code": "idempotency_key_invalid", "detail": "Too long."})
            with self.lock:
                if key and key in self.replays:
                    return self.replays[key]
            reply = self.write(request, lambda: self._create(request, key))
            return reply
        if request.method == "GET" and request.path == "/v1/emails":
            return Reply(200, {"results": self.posts, "count": len(self.posts)})
        return Reply(404, {"detail": "Not found."})

    def _create(self, request: Request, key: str | None) -> Reply:
        data = request.json() or {}
        unknown = sorted(set(data) - FIELDS)
        if unknown:
            return Reply(422, {"detail": [{"loc": ["body", f], "msg": "extra fields not permitted"}
                                          for f in unknown]})
        if not data.get("subject"):
            return Reply(400, {"code": "subject_invalid", "detail": "Subject is required."})
        status = data.get("status", "about_to_send")
        if any(p["subject"] == data["subject"] and p["body"] == data.get("body")
               for p in self.posts):
            return Reply(400, {"code": "email_duplicate",
                               "detail": "An email with this subject and body already exists."})
        eid = str(uuid.uuid4())
        email = {"id": eid, "subject": data["subject"], "body": data.get("body", ""),
                 "status": status, "canonical_url": data.get("canonical_url"),
                 "absolute_url": f"{self.url}/archive/{eid}", "slug": eid[:8],
                 "publish_date": None, "creation_date": "2026-11-22T00:00:00Z"}
        self.posts.append(email)
        if status == "about_to_send":
            self.sent.append(email)
        reply = Reply(201, json.loads(json.dumps(email)))
        if key:
            self.replays[key] = reply
        return reply
