"""Behaves as a Bluesky PDS does for posting (atproto.com; the lexicons in shared/specs/bluesky):
`createSession` with a handle and an app password (401 `AuthenticationRequired` otherwise),
access tokens that expire (400 `ExpiredToken`) and `refreshSession`, `createRecord` that refuses
a record key already used (400 `InvalidRequest`, "Record already exists"), `getRecord` (400
`RecordNotFound`). Every createRecord input and record is checked against the lexicons."""

from __future__ import annotations

import re
import secrets
from typing import Any

from . import lexicon
from .http import Reply, Request
from .platform import Platform
from .spec import available

HANDLE = "sanjay.bsky.example"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
DID = "did:plc:abcdefghijklmnopqrstuvwx"
_RKEY = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


def xrpc_error(status: int, error: str, message: str) -> Reply:
    return Reply(status, {"error": error, "message": message})


class BlueskyServer(Platform):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[str, dict[str, Any]] = {}
        self.access: set[str] = set()
        self.refresh: set[str] = set()
        self.logins = 0
        self.blobs: list[bytes] = []

    @property
    def posts(self) -> list[dict[str, Any]]:  # type: ignore[override]
        return list(self.records.values())

    @posts.setter
    def posts(self, value: list[dict[str, Any]]) -> None:
        pass

    def expire_tokens(self) -> None:
        self.access.clear()

    def _tokens(self) -> dict[str, str]:
        access, refresh = "acc-" + secrets.token_hex(8), "ref-" + secrets.token_hex(8)
        self.access.add(access)
        self.refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, "did": DID, "handle": HANDLE}

    def handle(self, request: Request) -> Reply | None:
        nsid = request.path.removeprefix("/xrpc/")
        bearer = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if nsid == "com.atproto.server.createSession":
            body = request.json() or {}
            if (body.get("identifier"), body.get("password")) != (HANDLE, APP_PASSWORD):
                return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            self.logins += 1
            return Reply(200, self._tokens())
        if nsid == "com.atproto.server.refreshSession":
            if bearer not in self.refresh:
                return xrpc_error(400, "ExpiredToken", "Token has expired")
            self.refresh.discard(bearer)
            return Reply(200, self._tokens())
        if bearer not in self.access:
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        if nsid == "com.atproto.repo.createRecord":
            return self.write(request, lambda: self._create(request))
        if nsid == "com.atproto.repo.uploadBlob":
            kind = request.headers.get("Content-Type") or ""
            if not kind.startswith("image/") or len(request.body) > 1_000_000:
                return xrpc_error(400, "InvalidRequest", "Invalid blob")
            self.blobs.append(request.body)
            return Reply(200, {"blob": {"$type": "blob", "ref": {"$link": "bafk" + secrets.token_hex(8)},
                                        "mimeType": kind, "size": len(request.body)}})
        if nsid == "com.atproto.repo.getRecord":
            rec = self.records.get(request.query.get("rkey", ""))
            if rec is None:
                return xrpc_error(400, "RecordNotFound", "Could not locate record")
            return Reply(200, rec)
        return xrpc_error(404, "MethodNotImplemented", "Method Not Implemented")

    def _create(self, request: Request) -> Reply:
        body = request.json() or {}
        if available():
            problems = lexicon.check_input("com.atproto.repo.createRecord", body)
            problems += lexicon.check_record(body.get("record"))
            if problems:
                self.spec_errors += problems
                return xrpc_error(400, "InvalidRequest", "; ".join(problems))
        rkey = str(body.get("rkey") or "")
        if not _RKEY.match(rkey):
            return xrpc_error(400, "InvalidRequest", f"Invalid record key: {rkey}")
        if rkey in self.records:
            return xrpc_error(400, "InvalidRequest", "Record already exists")
        uri = f"at://{DID}/app.bsky.feed.post/{rkey}"
        self.records[rkey] = {"uri": uri, "cid": "bafy" + secrets.token_hex(8),
                              "value": body["record"]}
        return Reply(200, {"uri": uri, "cid": self.records[rkey]["cid"]})
