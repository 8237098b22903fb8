"""Feed bytes -> entries. feedparser reads; `content.clean_html` sanitises (once, here)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser

from . import content, identity
from .entry import Entry
from .errors import FeedError

_ENTITY = re.compile(rb"<!ENTITY", re.I)


@dataclass
class ParsedFeed:
    title: str
    link: str  # the blog's home page
    hub: str | None  # WebSub hub named by the feed
    self_url: str | None
    next_url: str | None  # rel="next" page, for backfill
    entries: list[Entry] = field(default_factory=list)
    generator: str = ""


def _when(e: Any, *names: str) -> float:
    for name in names:
        t = dict.get(e, f"{name}_parsed")  # no FeedParserDict fallbacks (they warn)
        if t:
            return float(calendar.timegm(t))
    return 0.0


def _link(e: Any, base: str) -> str:
    # Only an http(s) link is ever kept: anything else (javascript:, data:) is dropped here, so
    # it can reach no page, feed, email or target; the entry keeps its other identities.
    for link in e.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return content.safe_url(urljoin(base, link["href"]))
    href = e.get("link") or ""
    if href:
        return content.safe_url(urljoin(base, href))
    return content.safe_url(e.get("id") or "")


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def _guid(e: Any, base: str) -> str:
    guid = content.strip_control(e.get("id") or "").strip()
    scheme = _SCHEME.match(guid)
    if scheme is None:
        # A relative guid means the same as its URL; any other opaque string is an id as is.
        return content.safe_url(urljoin(base, guid)) if "/" in guid else guid
    if scheme.group(1).lower() in ("http", "https"):
        return content.safe_url(guid)
    # tag:, urn: and the like identify without being followed; a scheme that a browser would
    # run or load (javascript:, data:, file:) is no identity worth keeping.
    return guid if scheme.group(1).lower() in ("tag", "urn") else ""


def _entry(e: Any, source: str, feed_link: str, feed_url: str) -> Entry | None:
    link = _link(e, feed_link or feed_url)
    guid = _guid(e, feed_link or feed_url)
    if not guid and not link:
        return None  # nothing would ever identify it again
    base = link or feed_link or feed_url
    raw_body = ""
    if e.get("content"):
        raw_body = max((c.get("value") or "" for c in e["content"]), key=len)
    raw_summary = e.get("summary") or ""
    body = content.clean_html(raw_body, base)
    summary = content.clean_html(raw_summary, base) if raw_summary != raw_body else body
    raw_title = content.strip_control(e.get("title") or "")
    title = " ".join((content.to_text(raw_title) if "<" in raw_title else raw_title).split())
    published = _when(e, "published", "updated", "created")
    updated = _when(e, "updated", "published") or published
    image = ""
    for thumb in e.get("media_thumbnail") or []:
        image = thumb.get("url") or ""
        if image:
            break
    image = content.safe_url(image or content.first_image(body or summary))
    authors = e.get("author") or ""
    post_id = identity.platform_post_id(guid, link, feed_link)
    return Entry(
        source=source,
        guid=guid or link,
        link=link or content.safe_url(guid),
        title=title or "(untitled)",
        content_html=body,
        summary=summary,
        published=published,
        updated=updated,
        author=content.strip_control(authors),
        categories=[t.get("term") for t in e.get("tags") or [] if t.get("term")],
        image=image,
        post_id=post_id,
        fingerprint=identity.fingerprint(title, body or summary),
        excerpt_only=not body and bool(summary),
        sources=[source],
    )


def parse_feed(body: bytes, url: str, source: str, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes; raise `FeedError` when they are not a feed at all.

    feedparser's own sanitiser is off (`sanitize_html=False`): `clean_html` does the same job with
    nh3 at a fraction of the cost, and keeps the embeds we want.
    """
    if _ENTITY.search(body[:65536]):
        raise FeedError(url, "the feed declares XML entities (<!ENTITY>); refused, because "
                        "they serve entity-expansion and external-entity attacks, never feeds")
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    d = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False,
                         response_headers=headers)
    if not d.get("version") and not d.get("entries"):
        err = d.get("bozo_exception")
        why = f" ({err.__class__.__name__}: {err})" if err else ""
        raise FeedError(url, f"not an RSS or Atom feed: no channel or feed element found{why}")
    feed = d.get("feed") or {}
    hub = self_url = next_url = None
    for link in feed.get("links") or []:
        rel, href = link.get("rel"), content.safe_url(link.get("href")) or None
        if rel == "hub":
            hub = href
        elif rel == "self":
            self_url = href
        elif rel == "next":
            next_url = href
    feed_link = content.safe_url(feed.get("link"))
    entries = [x for x in (_entry(e, source, feed_link, url) for e in d.get("entries") or []) if x]
    return ParsedFeed(
        title=feed.get("title") or source,
        link=feed_link,
        hub=hub,
        self_url=self_url,
        next_url=next_url,
        entries=entries,
        generator=str(feed.get("generator") or ""),
    )
