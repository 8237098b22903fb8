"""WordPress (core REST API).

Follows https://developer.wordpress.org/rest-api/reference/posts/ and
https://developer.wordpress.org/rest-api/reference/tags/ : Basic auth with an application
password; tags are term ids, so missing tags are created first (`POST /wp/v2/tags`); a post is
created with `POST /wp-json/wp/v2/posts` and edited with `POST /wp-json/wp/v2/posts/{id}`.
Core has no canonical-URL field, so the post carries the slug of the original and its link home
in the footer. A copy found on the site (by that slug, or by searching for the link) is ours
only if its raw content links the original: Blogger slugs repeat across months, and any post
on the site may share a slug. A wrong or stripped application password makes WordPress treat
us as an anonymous visitor, whose `context=edit` lookups answer 400 `rest_invalid_param`;
`GET /wp/v2/users/me` tells that apart from a real 400.
"""

from __future__ import annotations

import html
import re
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from ..entry import Entry
from ..errors import PermanentError
from ..identity import normalize_url
from ..verify import Copy
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

_HREF = re.compile(r"""href=["']([^"']+)["']""")


def links_home(raw: str, link: str) -> bool:
    """Whether a post's raw HTML ends by linking `link`, as the footer syndicate appends does.
    The last link, not any: another post of the blog may well link to this one in its text."""
    hrefs = _HREF.findall(raw)
    return bool(link and hrefs) and normalize_url(html.unescape(hrefs[-1])) == normalize_url(link)


def slug_for(entry: Entry) -> str:
    """The original's own slug: the last segment of its URL, without `.html`."""
    path = urlsplit(entry.link).path.rstrip("/")
    last = path.rsplit("/", 1)[-1]
    last = re.sub(r"\.html?$", "", last)
    if not last or last.isdigit():
        last = entry.title
    return re.sub(r"[^a-z0-9]+", "-", last.lower()).strip("-")[:190]


class WordpressTarget(HttpTarget):
    kind = "wordpress"
    platform = "WordPress"
    safe_to_resend = True  # looked up before creating
    can_update = True
    options: ClassVar[dict[str, Option]] = {
        "base_url": Option(str, required=True, url=True, help="the site, e.g. https://blog.example"),
        "username": Option(str, required=True),
        "app_password": Option(str, required=True, secret=True,
                               help="Users > Profile > Application Passwords"),
        "status": Option(str, default="publish",
                         choices=("publish", "future", "draft", "pending", "private")),
    }

    def auth(self, request: requests.Request) -> None:
        request.auth = (self.opts["username"], self.opts["app_password"].replace(" ", ""))

    def api(self, path: str) -> str:
        return self.url("/wp-json/wp/v2" + path)

    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        # By slug first (cheap, exact), then by a search for the link home: WordPress gives a
        # copy made after a slug collision another slug (`thanatos-2`).
        for params in ({"slug": slug_for(entry)}, {"search": entry.link}):
            resp = self.call(requests.Request("GET", self.api("/posts"), params={
                **params, "status": "publish,future,draft,pending,private", "context": "edit",
                "per_page": 20, "_fields": "id,link,slug,content"}))
            for post in resp.json() if isinstance(resp.json(), list) else []:
                raw = ((post.get("content") or {}).get("raw") or "")
                if links_home(raw, entry.link):
                    return DeliveryResult(remote_id=str(post["id"]),
                                          remote_url=post.get("link", ""), adopted=True)
        return None

    def tag_ids(self, entry: Entry, *, preview: bool = False) -> list[int | str]:
        ids: list[int | str] = []
        for name in self.tags(entry, limit=20, normalise=str.strip):
            if preview:
                ids.append(f"{{id of tag {name!r}, created if missing}}")
                continue
            match = self.find_tag(name)
            if match is None:
                # Two workers creating one tag at once both succeed (`x`, `x-2`): one at a time,
                # looking again once the lock is ours.
                with self.locked(f"tag:{name.lower()}"):
                    match = self.find_tag(name) or self.create_tag(name)
            ids.append(int(match["id"]))
        return ids

    def find_tag(self, name: str) -> dict[str, Any] | None:
        resp = self.call(requests.Request("GET", self.api("/tags"), params={
            "search": name, "per_page": 100, "_fields": "id,name"}))
        return next((t for t in resp.json() if html.unescape(t["name"]).lower() == name.lower()),
                    None)

    def create_tag(self, name: str) -> dict[str, Any]:
        try:
            return dict(self.call(requests.Request("POST", self.api("/tags"),
                                                   json={"name": name})).json())
        except PermanentError as exc:
            # Created by someone else meanwhile: WordPress says which term it is.
            body = exc.response.json() if exc.response is not None else {}
            if body.get("code") != "term_exists":
                raise
            return {"id": body["data"]["term_id"]}

    # -- credentials and read-back ------------------------------------------------------------
    def whoami(self) -> requests.Request:
        return requests.Request("GET", self.api("/users/me"), params={"_fields": "id,name"})

    def may_mean_rejected_credentials(self, resp: requests.Response) -> bool:
        if resp.status_code in (401, 403):
            return True
        if resp.status_code != 400:
            return False
        try:
            details = (resp.json().get("data") or {}).get("details") or {}
        except (ValueError, AttributeError):
            return False
        # What only an anonymous caller gets: a parameter "forbidden" with a nested 401/403.
        return any(isinstance(d, dict) and (d.get("data") or {}).get("status") in (401, 403)
                   for d in details.values())

    def read_back(self, remote_id: str) -> Copy | None:
        resp = self.call(requests.Request("GET", self.api(f"/posts/{remote_id}"), params={
            "context": "edit", "_fields": "id,title,content"}))
        body = resp.json()
        return Copy(html.unescape((body.get("title") or {}).get("raw") or ""),
                    (body.get("content") or {}).get("raw") or "")

    def post(self, entry: Entry, *, preview: bool = False) -> dict[str, Any]:
        # WordPress keeps and shows a title as HTML: a feed's plain-text title is escaped.
        post: dict[str, Any] = {
            "title": html.escape(entry.title, quote=False), "content": self.body_html(entry),
            "slug": slug_for(entry), "status": self.opts["status"],
            "tags": self.tag_ids(entry, preview=preview)}
        if entry.published:  # the copy carries the original's date, not the delivery's
            post["date_gmt"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.published))
        return post

    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.api("/posts"),
                                json=self.post(entry, preview=attempt.preview))

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        body = resp.json()
        return DeliveryResult(remote_id=str(body.get("id", "")), remote_url=body.get("link") or "")

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        post = self.post(entry)
        post.pop("status")
        resp = self.call(requests.Request("POST", self.api(f"/posts/{remote_id}"), json=post))
        return self.parse_response(resp, entry)
