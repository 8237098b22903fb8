"""Bluesky: a post with the title and the link home, as a link facet and a link card.

Follows the AT Protocol lexicons (atproto.com/specs/lexicon; `app.bsky.feed.post`,
`app.bsky.richtext.facet`, `app.bsky.embed.external`, `com.atproto.repo.createRecord`):
log in with `com.atproto.server.createSession` (the app password stays in the config; the
session's tokens only in memory, refreshed with `refreshSession`), then `createRecord`. The text
keeps within 300 graphemes; the link is a facet over its UTF-8 byte range. Bluesky has no
idempotency key, so each record gets a deterministic record key (a TID built from the entry's
first-seen time and the target): a repeat create is refused by the PDS as a duplicate, and the
existing record (`getRecord`) is adopted. Posts are not edited (`on_edit = "ignore"`).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any, ClassVar

import regex
import requests

from .. import content
from ..entry import Entry
from ..errors import PermanentError, SyndicateError, TargetBroken
from ..fetch import fetch
from ..identity import normalize_url, plain_text
from ..verify import Copy
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

MAX_GRAPHEMES = 300
THUMB_MAX = 1_000_000  # app.bsky.embed.external#external.thumb: maxSize
_B32 = "234567abcdefghijklmnopqrstuvwxyz"  # the TID alphabet (base32-sortable)
COLLECTION = "app.bsky.feed.post"


def graphemes(text: str) -> int:
    return len(regex.findall(r"\X", text))


def cut_graphemes(text: str, limit: int) -> str:
    parts = regex.findall(r"\X", text)
    return text if len(parts) <= limit else "".join(parts[: max(0, limit - 1)]).rstrip() + "…"


def tid(micros: int, clock_id: int) -> str:
    """A TID: 64 bits (top bit 0, 53 bits of microseconds, 10 of clock id) in 13 characters."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 1023)
    return "".join(_B32[(value >> (60 - 5 * i)) & 31] for i in range(13))


class BlueskyTarget(HttpTarget):
    kind = "bluesky"
    platform = "Bluesky"
    safe_to_resend = True  # the record key is fixed: a second create is refused, not doubled
    can_update = False
    options: ClassVar[dict[str, Option]] = {
        "service": Option(str, default="https://bsky.social", url=True,
                          help="the PDS, e.g. https://bsky.social"),
        "handle": Option(str, required=True, help="e.g. sanjay.bsky.social"),
        "app_password": Option(str, required=True, secret=True,
                               help="Settings > Privacy and security > App passwords"),
        "language": Option(str),
        "allow_private": Option(bool, default=False,
                                help="fetch a post's image from a private address for the card"),
    }

    _session: dict[str, str] | None = None

    def url(self, path: str) -> str:
        return str(self.opts.get("service") or "https://bsky.social").rstrip("/") + path

    # -- the session: tokens in memory only ---------------------------------------------------
    def _login(self) -> dict[str, str]:
        if self._session is None:
            resp = self.call(requests.Request(
                "POST", self.url("/xrpc/com.atproto.server.createSession"),
                json={"identifier": self.opts["handle"], "password": self.opts["app_password"]}),
                writes=False)
            self._session = {k: str(v) for k, v in resp.json().items()
                             if k in ("accessJwt", "refreshJwt", "did", "handle")}
        return self._session

    def _refresh(self) -> None:
        session = self._session or {}
        try:
            resp = self.exchange(requests.Request(
                "POST", self.url("/xrpc/com.atproto.server.refreshSession"),
                headers={"Authorization": f"Bearer {session.get('refreshJwt', '')}"}).prepare())
        except requests.RequestException:
            resp = None
        if resp is not None and resp.ok:
            self._session = {**session, **{k: str(v) for k, v in resp.json().items()
                                           if k in ("accessJwt", "refreshJwt")}}
        else:
            self._session = None  # log in again with the app password

    _previewing = False

    def preview(self, entry: Entry, attempt: Attempt) -> str:
        self._previewing = True  # shown, not sent: no login either
        try:
            return super().preview(entry, attempt)
        finally:
            self._previewing = False

    def auth(self, request: requests.Request) -> None:
        if request.url.endswith(("createSession", "refreshSession")):
            return
        if self._previewing:
            request.headers = {**(request.headers or {}), "Authorization": "Bearer (session)"}
            return
        token = self._login()["accessJwt"]
        request.headers = {**(request.headers or {}), "Authorization": f"Bearer {token}"}

    def xrpc(self, method: str, nsid: str, **kw: Any) -> requests.Response:
        """One XRPC call; an expired access token is refreshed once and the call made again."""
        for attempt in (1, 2):
            try:
                return self.call(requests.Request(method, self.url(f"/xrpc/{nsid}"), **kw),
                                 writes=method == "POST" and nsid.endswith("createRecord"),
                                 creates=nsid.endswith("createRecord"))
            except PermanentError as exc:
                if attempt == 1 and exc.response is not None and _error(exc.response) in (
                        "ExpiredToken", "InvalidToken"):
                    self._refresh()
                    continue
                raise
        raise AssertionError("unreachable")

    def whoami(self) -> requests.Request:
        return requests.Request("POST", self.url("/xrpc/com.atproto.server.createSession"),
                                json={"identifier": self.opts["handle"],
                                      "password": self.opts["app_password"]})

    def may_mean_rejected_credentials(self, resp: requests.Response) -> bool:
        return resp.status_code in (401, 403) or _error(resp) == "AuthenticationRequired"

    # -- the record ---------------------------------------------------------------------------
    def rkey(self, entry: Entry, target: str) -> str:
        clock = int.from_bytes(hashlib.sha256(f"{entry.id}:{target}".encode()).digest()[:2],
                               "big")
        return tid(int((entry.first_seen or entry.published or 0) * 1_000_000), clock)

    def text(self, entry: Entry) -> tuple[str, dict[str, Any]]:
        """The text (title, then the link) and the link's facet over its UTF-8 byte range."""
        room = MAX_GRAPHEMES - graphemes(entry.link) - 2
        title = cut_graphemes(entry.title, max(1, room))
        text = f"{title}\n\n{entry.link}"
        start = len(f"{title}\n\n".encode())
        facet = {"index": {"byteStart": start, "byteEnd": start + len(entry.link.encode())},
                 "features": [{"$type": "app.bsky.richtext.facet#link", "uri": entry.link}]}
        return text, facet

    def record(self, entry: Entry) -> dict[str, Any]:
        text, facet = self.text(entry)
        external: dict[str, Any] = {
            "uri": entry.link, "title": cut_graphemes(entry.title, 300),
            "description": content.shorten(" ".join(plain_text(entry.summary or
                                                               entry.content_html).split()),
                                           300)}
        record: dict[str, Any] = {
            "$type": COLLECTION, "text": text, "facets": [facet],
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "embed": {"$type": "app.bsky.embed.external", "external": external}}
        if self.opts.get("language"):
            record["langs"] = [self.opts["language"]]
        thumb = self.thumb(entry)
        if thumb:
            external["thumb"] = thumb
        return record

    def thumb(self, entry: Entry) -> dict[str, Any] | None:
        """The post's image for the card, uploaded with `uploadBlob` when it is small enough
        (the lexicon's 1,000,000 bytes). Any failure leaves the card without it, never the
        post unsent. The image URL comes from the feed: it is fetched through the guard."""
        if not entry.image or self._previewing:
            return None
        try:
            image = fetch(entry.image, timeout=15, max_bytes=THUMB_MAX,
                          accept="image/*", allow_private=bool(self.opts.get("allow_private")))
        except SyndicateError:
            return None
        kind = (image.content_type or "").split(";")[0].strip()
        if not kind.startswith("image/") or not image.body:
            return None
        try:
            resp = self.xrpc("POST", "com.atproto.repo.uploadBlob", data=image.body,
                             headers={"Content-Type": kind})
        except SyndicateError:
            return None
        blob = resp.json().get("blob")
        return blob if isinstance(blob, dict) else None

    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        return self._get(entry, self.rkey(entry, self.name))

    def _get(self, entry: Entry, rkey: str) -> DeliveryResult | None:
        session = self._login()
        try:
            got = self.xrpc("GET", "com.atproto.repo.getRecord", params={
                "repo": session["did"], "collection": COLLECTION, "rkey": rkey}).json()
        except PermanentError as exc:
            if exc.response is not None and _error(exc.response) == "RecordNotFound":
                return None
            raise
        card = ((got.get("value") or {}).get("embed") or {}).get("external") or {}
        if normalize_url(str(card.get("uri") or "")) != normalize_url(entry.link):
            raise PermanentError(f"record {rkey} on Bluesky is another post's; not taken")
        return DeliveryResult(remote_id=rkey, remote_url=self._web_url(rkey), adopted=True)

    def _web_url(self, rkey: str) -> str:
        return f"https://bsky.app/profile/{self._login().get('handle') or self.opts['handle']}" \
               f"/post/{rkey}"

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        session = {"did": "did:example"} if attempt.preview else self._login()
        return requests.Request("POST", self.url("/xrpc/com.atproto.repo.createRecord"), json={
            "repo": session["did"], "collection": COLLECTION,
            "rkey": self.rkey(entry, self.name), "record": self.record(entry)})

    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        rkey = self.rkey(entry, self.name)
        try:
            self.xrpc("POST", "com.atproto.repo.createRecord",
                      json=self.build_request(entry, attempt).json)
        except PermanentError as exc:
            if exc.response is not None and exc.response.status_code in (400, 409) and \
                    "exist" in (exc.message or "").lower():
                found = self._get(entry, rkey)  # our own earlier create: the key is ours
                if found is not None:
                    return found
            raise
        return DeliveryResult(remote_id=rkey, remote_url=self._web_url(rkey))

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        return DeliveryResult(remote_id=str(resp.json().get("uri", "")))

    def sent_copy(self, entry: Entry) -> Copy:
        return Copy("", self.text(entry)[0])

    def read_back(self, remote_id: str) -> Copy | None:
        got = self.xrpc("GET", "com.atproto.repo.getRecord", params={
            "repo": self._login()["did"], "collection": COLLECTION, "rkey": remote_id}).json()
        return Copy("", str((got.get("value") or {}).get("text") or ""))

    def error_message(self, resp: requests.Response) -> str:
        """XRPC errors are `{"error": name, "message": words}`: both are said."""
        try:
            body = resp.json()
        except ValueError:
            return super().error_message(resp)
        if isinstance(body, dict) and body.get("error"):
            return f"{body['error']}: {body.get('message') or ''}".rstrip(": ")
        return super().error_message(resp)

    def check(self, resp: requests.Response, prepared: requests.PreparedRequest) -> None:
        if resp.status_code == 401 and _error(resp) in ("ExpiredToken", "InvalidToken"):
            raise PermanentError(f"HTTP 401 from {self.describe(prepared.url)}: "
                                 f"{self.error_message(resp)}", request=prepared, response=resp)
        if resp.status_code == 401 and prepared.url and prepared.url.endswith("createSession"):
            raise TargetBroken(f"credentials rejected by Bluesky: {self.error_message(resp)}",
                               request=prepared, response=resp)
        super().check(resp, prepared)


def _error(resp: requests.Response) -> str:
    try:
        return str(resp.json().get("error") or "")
    except (ValueError, AttributeError):
        return ""

