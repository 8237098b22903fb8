"""Ghost Admin API (v5).

Follows https://ghost.org/docs/admin-api/ : a short-lived HS256 JWT made from the Admin API key
(`id:secret`, the secret hex-decoded; header `kid`; claims `iat`, `exp` <= 5 minutes, `aud`
`/admin/`) sent as `Authorization: Ghost <token>` with `Accept-Version: v5.0`. `source=html`
goes in the query string (in the body Ghost ignores it and the post comes out empty), and the
HTML is wrapped in an HTML card so Ghost keeps it as written. A copy is looked up with the NQL
filter `canonical_url:'…'` before creating. Edits send the post's current `updated_at`, or Ghost
answers 409 `UPDATE_COLLISION`.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import requests

from .. import content, identity
from ..config import SiteConfig, TargetConfig
from ..entry import Entry
from ..errors import ConfigError, TransientError
from ..identity import plain_text
from ..verify import Copy
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

EXCERPT_MAX = 300


def ghost_token(admin_key: str, now: float | None = None) -> str:
    key_id, _, secret = admin_key.partition(":")
    iat = int(time.time() if now is None else now)
    import jwt  # on first use: PyJWT and its crypto are 30 ms of every process's start

    return jwt.encode({"iat": iat, "exp": iat + 5 * 60, "aud": "/admin/"},
                      bytes.fromhex(secret), algorithm="HS256", headers={"kid": key_id})


def html_card(html: str) -> str:
    """The body as one HTML card. A real Ghost 5 drops text that stands bare at the card's top
    level (an excerpt's first sentence, say): such a body goes in one `<div>`."""
    if content.has_bare_text(html):
        html = f"<div>{html}</div>"
    return f"<!--kg-card-begin: html-->\n{html}\n<!--kg-card-end: html-->"


def nql_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class GhostTarget(HttpTarget):
    kind = "ghost"
    platform = "Ghost"
    safe_to_resend = True
    can_update = True
    options: ClassVar[dict[str, Option]] = {
        "admin_url": Option(str, required=True, url=True, help="e.g. https://blog.example"),
        "admin_key": Option(str, required=True, secret=True, help="'id:secret' from Integrations"),
        "status": Option(str, default="published", choices=("published", "draft")),
        "newsletter": Option(str, help="a newsletter slug: publishing also emails the post"),
        "segment": Option(str, help="email_segment, e.g. 'status:free'"),
    }

    @classmethod
    def check_options(cls, raw: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().check_options(raw, where)
        key_id, sep, secret = str(out["admin_key"]).partition(":")
        try:
            bytes.fromhex(secret)
        except ValueError:
            secret = ""
        if not sep or not key_id or not secret:
            raise ConfigError(f"{where}.admin_key", "expected 'id:secret' (secret in hex), as "
                              "Ghost shows it under Integrations")
        return out

    def __init__(self, config: TargetConfig, site: SiteConfig) -> None:
        super().__init__(config, site)
        self.base_url = str(self.opts["admin_url"]).rstrip("/") + "/ghost/api/admin"

    def auth(self, request: requests.Request) -> None:
        request.headers["Authorization"] = f"Ghost {ghost_token(self.opts['admin_key'])}"
        request.headers["Accept-Version"] = "v5.0"

    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        resp = self.call(requests.Request("GET", self.url("/posts/"), params={
            "filter": f"canonical_url:{nql_string(entry.link)}", "limit": 1,
            "fields": "id,url,canonical_url,updated_at"}))
        # Ours only on proof: the copy's own canonical URL is this entry's, whatever the filter
        # matched.
        want = identity.normalize_url(entry.link)
        for post in resp.json().get("posts") or []:
            if identity.normalize_url(post.get("canonical_url") or "") == want:
                return DeliveryResult(remote_id=post["id"], remote_url=post.get("url") or "",
                                      adopted=True)
        return None

    def post(self, entry: Entry) -> dict[str, Any]:
        post: dict[str, Any] = {
            "title": entry.title,
            "html": html_card(self.body_html(entry)),
            "status": self.opts.get("status", "published"),
            "canonical_url": entry.link,
            "tags": [{"name": t} for t in self.tags(entry, limit=10, normalise=str.strip)],
        }
        if entry.image:
            post["feature_image"] = entry.image
        if entry.summary and entry.summary != entry.content_html:
            post["custom_excerpt"] = content.shorten(" ".join(plain_text(entry.summary).split()),
                                             EXCERPT_MAX)
        if entry.published:  # the copy carries the original's date, not the delivery's
            post["published_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                 time.gmtime(entry.published))
        return post

    @classmethod
    def secret_values(cls, options: dict[str, Any]) -> list[str]:
        # The Admin API key's secret half is what signs tokens: mask it alone too.
        key = str(options.get("admin_key") or "")
        return [*super().secret_values(options), key.partition(":")[2]]

    def whoami(self) -> requests.Request:
        # The site endpoint answers anyone; a one-post browse needs a valid token.
        return requests.Request("GET", self.url("/posts/"), params={"limit": 1, "fields": "id"})

    def may_mean_rejected_credentials(self, resp: requests.Response) -> bool:
        if resp.status_code in (401, 403):
            return True
        try:
            err = (resp.json().get("errors") or [{}])[0]
        except (ValueError, AttributeError):
            return False
        return resp.status_code == 400 and err.get("code") == "INVALID_JWT"

    def read_back(self, remote_id: str) -> Copy | None:
        resp = self.call(requests.Request("GET", self.url(f"/posts/{remote_id}/"),
                                          params={"formats": "html"}))
        post = (resp.json().get("posts") or [{}])[0]
        return Copy(post.get("title") or "", post.get("html") or "")

    def query(self) -> dict[str, str]:
        params = {"source": "html"}
        if self.opts.get("newsletter") and self.opts.get("status") == "published":
            params["newsletter"] = self.opts["newsletter"]
            if self.opts.get("segment"):
                params["email_segment"] = self.opts["segment"]
        return params

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.url("/posts/"), params=self.query(),
                                json={"posts": [self.post(entry)]})

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        post = (resp.json().get("posts") or [{}])[0]
        return DeliveryResult(remote_id=post.get("id", ""), remote_url=post.get("url") or "")

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        current = self.call(requests.Request("GET", self.url(f"/posts/{remote_id}/"),
                                             params={"fields": "id,updated_at"}))
        updated_at = (current.json().get("posts") or [{}])[0].get("updated_at")
        post = self.post(entry)
        post.pop("status")  # an edit never changes whether the post is published
        post["updated_at"] = updated_at
        resp = self.call(requests.Request("PUT", self.url(f"/posts/{remote_id}/"),
                                          params={"source": "html"}, json={"posts": [post]}))
        return self.parse_response(resp, entry)

    def check(self, resp: requests.Response, prepared: requests.PreparedRequest) -> None:
        if resp.status_code == 409:
            # UPDATE_COLLISION: the post changed since we read `updated_at`; read it again.
            raise TransientError(f"HTTP 409 from {self.describe(prepared.url)}: "
                                 f"{self.error_message(resp)}", request=prepared, response=resp)
        super().check(resp, prepared)

    def error_message(self, resp: requests.Response) -> str:
        try:
            err = (resp.json().get("errors") or [{}])[0]
        except (ValueError, AttributeError):
            return super().error_message(resp)
        parts = [err.get("type"), err.get("message"), err.get("context")]
        return ": ".join(str(p) for p in parts if p)


class GhostNewsletterTarget(GhostTarget):
    """An email-only Ghost post sent to one newsletter (`?newsletter=<slug>`): the readers get
    the email, the site gets no new page. An email, once sent, is never edited."""

    kind = "ghost_newsletter"
    newsletter = True
    can_update = False
    options: ClassVar[dict[str, Option]] = {
        "admin_url": Option(str, required=True, url=True),
        "admin_key": Option(str, required=True, secret=True),
        "newsletter": Option(str, required=True, help="the newsletter's slug"),
        "segment": Option(str, help="email_segment, e.g. 'status:free'"),
    }

    def post(self, entry: Entry) -> dict[str, Any]:
        post = super().post(entry)
        post["status"] = "published"
        post["email_only"] = True
        post.pop("published_at", None)  # an email goes out now, whatever the post's date
        return post

    def read_back(self, remote_id: str) -> Copy | None:
        return None  # an email, once sent, is what it is

    def query(self) -> dict[str, str]:
        params = {"source": "html", "newsletter": self.opts["newsletter"]}
        if self.opts.get("segment"):
            params["email_segment"] = self.opts["segment"]
        return params
