"""Ghost's own webhooks as a source: the post arrives in the request, so no poll, no wait.

Ghost (Settings > Integrations > a custom integration > webhooks) calls a URL on
`post.published` and `post.published.edited` with `{"post": {"current": {...}}}` and, when the
webhook has a secret, `X-Ghost-Signature: sha256=<hex>, t=<ms>`, where the hex is the HMAC-SHA256
of the body followed by the timestamp. A post stored from here is the same entry the Ghost feed
carries later: Ghost's RSS guid is the post's id, and its link the post's URL.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from datetime import datetime
from typing import Any

from . import content, identity
from .entry import Entry
from .errors import SyndicateError

TOLERANCE = 300.0  # seconds between Ghost signing and us checking, either way


class GhostSignatureError(SyndicateError):
    """The request is not signed by Ghost with this source's secret (or is too old)."""


def verify(secret: bytes, header: str, body: bytes, *, now: float | None = None,
           tolerance: float = TOLERANCE) -> None:
    parts = dict(p.strip().partition("=")[::2] for p in header.split(",") if "=" in p)
    sig, ts = parts.get("sha256", ""), parts.get("t", "")
    if not sig or not ts.isdigit() or len(ts) > 16:
        raise GhostSignatureError("X-Ghost-Signature missing or malformed")
    now = time.time() if now is None else now
    if abs(now - int(ts) / 1000) > tolerance:
        raise GhostSignatureError("X-Ghost-Signature timestamp is too far from now")
    want = hmac.new(secret, body + ts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        raise GhostSignatureError("X-Ghost-Signature does not match")


def signature(secret: bytes, body: bytes, ts_ms: int | None = None) -> str:
    """What Ghost sends (for tests and `syndicate hook`-style tools)."""
    ts = str(int(time.time() * 1000) if ts_ms is None else ts_ms)
    return f"sha256={hmac.new(secret, body + ts.encode(), hashlib.sha256).hexdigest()}, t={ts}"


def _when(value: Any) -> float:
    if not isinstance(value, str) or not value:
        return 0.0
    try:
        return float(calendar.timegm(datetime.fromisoformat(value.replace("Z", "+00:00"))
                                     .utctimetuple()))
    except ValueError:
        return 0.0


def entry_from(payload: Any, source: str) -> Entry | None:
    """The post of a `post.published(.edited)` payload as an entry; None when it is no
    published post (a page, a draft, an email-only post)."""
    post = ((payload or {}).get("post") or {}).get("current") if isinstance(payload, dict) else None
    if not isinstance(post, dict) or post.get("status") not in (None, "published"):
        return None
    if post.get("email_only") or post.get("type") == "page":
        return None
    link = content.safe_url(str(post.get("url") or ""))
    guid = content.strip_control(str(post.get("id") or "")).strip()
    if not link and not guid:
        return None
    base = link or ""
    body = content.clean_html(str(post.get("html") or ""), base)
    excerpt = str(post.get("custom_excerpt") or post.get("excerpt") or "")
    title = " ".join(content.strip_control(str(post.get("title") or "")).split())
    author = (post.get("primary_author") or {}).get("name") or ""
    return Entry(
        source=source, guid=guid or link, link=link, title=title or "(untitled)",
        content_html=body, summary=content.clean_html(f"<p>{excerpt}</p>", base) if excerpt
        else "",
        published=_when(post.get("published_at")), updated=_when(post.get("updated_at")),
        author=content.strip_control(str(author)),
        categories=[content.strip_control(str(t.get("name"))) for t in post.get("tags") or []
                    if isinstance(t, dict) and t.get("name")],
        image=content.safe_url(str(post.get("feature_image") or "")),
        post_id=f"ghost:{guid}" if guid else "",
        fingerprint=identity.fingerprint(title, body), sources=[source])
