"""Behaves as listmonk's API does (listmonk.app/docs/apis): Basic `api_user:token`, campaigns
created as drafts, started with `PUT .../status`, `{"data": ...}` answers, `{"message"}` errors."""

from __future__ import annotations

import re
import uuid
from typing import Any

from .http import Reply, Request
from .platform import Platform
from .spec import OpenApiCheck, available

USER, TOKEN = "syndicate-api", "listmonk-token"


class ListmonkServer(Platform):
    spec = (OpenApiCheck("listmonk/collections.yaml",
                         "http://localhost:9000/api", strip="/api")
            if available() else None)
    def __init__(self) -> None:
        super().__init__()
        self.starts = 0

    def handle(self, request: Request) -> Reply | None:
        if request.basic_auth() != (USER, TOKEN):
            return Reply(403, {"message": "invalid API credentials"})
        if request.path == "/api/campaigns" and request.method == "GET":
            q = request.query.get("query", "")
            found = [c for c in self.posts if q in c["name"]]
            return Reply(200, {"data": {"results": found, "total": len(found)}})
        if request.path == "/api/campaigns" and request.method == "POST":
            return self.write(request, lambda: self._create(request.json() or {}))
        m = re.fullmatch(r"/api/campaigns/(\d+)(/status)?", request.path)
        camp = next((c for c in self.posts if m and c["id"] == int(m.group(1))), None)
        if camp is None:
            return Reply(404, {"message": "Campaign not found."})
        if m and m.group(2) and request.method == "PUT":
            return self.write(request, lambda: self._status(camp, request.json() or {}))
        return Reply(200, {"data": camp})

    def _create(self, data: dict[str, Any]) -> Reply:
        for f in ("name", "subject", "lists"):
            if not data.get(f):
                return Reply(400, {"message": f"invalid {f}"})
        if data.get("content_type") not in ("html", "markdown", "plain", "richtext"):
            return Reply(400, {"message": "invalid content_type"})
        camp = {"id": len(self.posts) + 1, "uuid": str(uuid.uuid4()), "status": "draft", **data}
        self.posts.append(camp)
        return Reply(200, {"data": camp})

    def _status(self, camp: dict[str, Any], data: dict[str, Any]) -> Reply:
        if data.get("status") != "running":
            return Reply(400, {"message": "invalid status"})
        if camp["status"] != "draft":
            return Reply(400, {"message": "Cannot start campaign: it is not a draft."})
        camp["status"] = "running"
        self.starts += 1
        return Reply(200, {"data": camp})
