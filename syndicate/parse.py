"""Feed bytes -> entries. feedparser reads; `content.clean_html` sanitises (once, here).

Feeds from the wild are odd: character references to surrogates, one invalid byte in a UTF-8
document, control characters in a guid, titles that are text or HTML, no dates or dates in the
year 9999, the same guid twice. The rules here: one bad entry is skipped with its reason and
never stops the others; every string that is kept is one XML 1.0 can carry; a title is plain
text; a date is one a reader can write.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import feedparser
from lxml import etree

from . import content, identity
from .entry import Entry
from .errors import FeedError

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_DOCTYPE_UTF16 = ("<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"))
_XML_DECL_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
_CHARSET = re.compile(r"charset=[\"']?([A-Za-z0-9._-]+)", re.I)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_NOREPLY = re.compile(r"\s*\((?:[^()]*@[^()]*)\)\s*$")

OLDEST = 315532800.0  # 1980-01-01: a post dated before it has no real date
FUTURE_SLACK = 86400.0  # a post dated more than a day ahead is not believed


@dataclass
class ParsedFeed:
    title: str
    link: str  # the blog's home page
    hub: str | None  # WebSub hub named by the feed
    self_url: str | None
    next_url: str | None  # rel="next" page, for backfill
    entries: list[Entry] = field(default_factory=list)
    generator: str = ""
    skipped: list[str] = field(default_factory=list)  # one line per entry left out, and why


def _when(e: Any, now: float, *names: str) -> float:
    """The first believable date of `names`, else 0 (undated: the store dates it first seen)."""
    for name in names:
        t = dict.get(e, f"{name}_parsed")  # no FeedParserDict fallbacks (they warn)
        if not t:
            continue
        try:
            ts = float(calendar.timegm(t))
        except (OverflowError, ValueError, TypeError):
            continue
        if OLDEST <= ts <= now + FUTURE_SLACK:
            return ts
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


def _title(e: Any) -> str:
    """Plain text, always: an Atom `type="text"` title keeps its `<` and `>`; an HTML title is
    reduced to its text with entities decoded. Never Markdown."""
    raw = content.strip_control(e.get("title") or "")
    kind = str((e.get("title_detail") or {}).get("type") or "text/plain")
    if "html" in kind:
        raw = identity.plain_text(raw)
    return " ".join(raw.split())


def _author(e: Any) -> str:
    """A name, without the platform's address (Blogger: `Name (noreply@blogger.com)`)."""
    detail = e.get("author_detail") or {}
    name = detail.get("name") or e.get("author") or ""
    return " ".join(_NOREPLY.sub("", content.strip_control(str(name))).split())


def _entry(e: Any, source: str, feed_link: str, feed_url: str, now: float) -> Entry | None:
    base = feed_link or feed_url
    link = _link(e, base)
    guid = _guid(e, base)
    if not guid and not link:
        return None  # nothing would ever identify it again
    base = link or base
    raw_body = ""
    if e.get("content"):
        raw_body = max((c.get("value") or "" for c in e["content"]), key=len)
    raw_summary = e.get("summary") or ""
    body = content.clean_html(raw_body, base)
    summary = content.clean_html(raw_summary, base) if raw_summary != raw_body else body
    title = _title(e)
    published = _when(e, now, "published", "updated", "created")
    updated = _when(e, now, "updated", "published") or published
    image = ""
    for thumb in e.get("media_thumbnail") or []:
        image = thumb.get("url") or ""
        if image:
            break
    image = content.safe_url(image or content.first_image(body or summary))
    post_id = identity.platform_post_id(guid, link, feed_link)
    categories = [content.strip_control(str(t.get("term"))).strip()
                  for t in e.get("tags") or [] if t.get("term")]
    return Entry(
        source=source,
        guid=guid or link,
        link=link or content.safe_url(guid),
        title=title or "(untitled)",
        content_html=body,
        summary=summary,
        published=published,
        updated=updated,
        author=_author(e),
        categories=[c for c in categories if c],
        image=image,
        post_id=post_id,
        fingerprint=identity.fingerprint(title, body or summary),
        excerpt_only=not body and bool(summary),
        sources=[source],
    )


def _declared_encoding(body: bytes, content_type: str | None) -> str:
    m = _XML_DECL_ENCODING.match(body[:200])
    if m:
        return m.group(1).decode().lower()
    m2 = _CHARSET.search(content_type or "")
    return m2.group(1).lower() if m2 else ""


def _as_utf8(body: bytes, content_type: str | None) -> bytes:
    """A document that is (or says it is) UTF-8 stays UTF-8 with its few bad bytes replaced:
    feedparser would otherwise re-read the whole of it in another encoding, turning every
    "It’s a café" into mojibake."""
    if body.startswith((b"\xff\xfe", b"\xfe\xff")):
        return body  # UTF-16, by its byte order mark
    enc = _declared_encoding(body, content_type)
    if enc not in ("", "utf-8", "utf8"):
        return body
    try:
        body.decode("utf-8")
        return body
    except UnicodeDecodeError:
        return body.decode("utf-8", errors="replace").encode("utf-8")


def _refuse_entities(body: bytes, url: str) -> None:
    """Refuse a document whose DTD declares entities (billion laughs, XXE). Decided by an XML
    parser that resolves nothing, so padding, UTF-16 or a comment cannot hide a declaration,
    and `<!ENTITY` quoted inside CDATA or a reference to a public DTD does not trip it."""
    if not _DOCTYPE.search(body) and not any(m in body for m in _DOCTYPE_UTF16):
        return  # no DOCTYPE: no internal subset, no entity can be declared
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, recover=True)
    try:
        root = etree.fromstring(body, parser)
    except (etree.XMLSyntaxError, ValueError):
        root = None
    dtd = root.getroottree().docinfo.internalDTD if root is not None else None
    if dtd is None and root is None and re.search(rb"<!ENTITY", body, re.I):
        raise FeedError(url, "the feed's DTD cannot be read and seems to declare entities; "
                        "refused")
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise FeedError(url, "the feed declares XML entities (<!ENTITY>); refused, because "
                        "they serve entity-expansion and external-entity attacks, never feeds")


_CHAR_REF = re.compile(rb"&#([xX][0-9a-fA-F]{1,10}|[0-9]{1,12});")


def _char_value(token: bytes) -> int:
    return int(token[1:], 16) if token[:1] in b"xX" else int(token)


def _fix_char_refs(body: bytes) -> bytes:
    """Character references Python cannot hold: a surrogate pair written as two references
    (`&#55357;&#56832;`, an emoji, seen in real feeds) becomes the one character it means; a
    lone surrogate, or a number past U+10FFFF, becomes U+FFFD. feedparser raises on them."""
    if b"&#" not in body:
        return body
    out: list[bytes] = []
    pos = 0
    matches = list(_CHAR_REF.finditer(body))
    i = 0
    while i < len(matches):
        m = matches[i]
        value = _char_value(m.group(1))
        if 0xD800 <= value <= 0xDBFF and i + 1 < len(matches) \
                and matches[i + 1].start() == m.end() \
                and 0xDC00 <= _char_value(matches[i + 1].group(1)) <= 0xDFFF:
            low = _char_value(matches[i + 1].group(1))
            out += [body[pos:m.start()],
                    b"&#x%X;" % (0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00))]
            pos = matches[i + 1].end()
            i += 2
            continue
        if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
            out += [body[pos:m.start()], b"&#xFFFD;"]
            pos = m.end()
        i += 1
    if not out:
        return body
    out.append(body[pos:])
    return b"".join(out)


def _feedparser(body: bytes, headers: dict[str, str], url: str) -> Any:
    try:
        return feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False,
                                response_headers=headers)
    except Exception as exc:  # feedparser's own failure, whatever it is, is the feed's
        raise FeedError(url, f"feedparser failed: {exc.__class__.__name__}: {exc}") from None


def parse_feed(body: bytes, url: str, source: str, content_type: str | None = None) -> ParsedFeed:
    """Parse feed bytes; raise `FeedError` when they are not a feed at all. An entry that cannot
    be read is left out, with its reason in `skipped`.

    feedparser's own sanitiser is off (`sanitize_html=False`): `clean_html` does the same job with
    nh3 at a fraction of the cost, and keeps the embeds we want.
    """
    _refuse_entities(body, url)
    body = _fix_char_refs(_as_utf8(body, content_type))
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    d = _feedparser(body, headers, url)
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
    now = time.time()
    entries: list[Entry] = []
    skipped: list[str] = []
    links_by_guid: dict[str, str] = {}
    for n, e in enumerate(d.get("entries") or [], 1):
        try:
            entry = _entry(e, source, feed_link, url, now)
        except Exception as exc:  # one odd entry must never stop the others
            what = content.strip_control(str(e.get("id") or e.get("link") or f"entry {n}"))[:120]
            skipped.append(f"{what}: {exc.__class__.__name__}: {str(exc)[:200]}")
            continue
        if entry is None:
            skipped.append(f"entry {n}: no guid and no http(s) link")
            continue
        seen = links_by_guid.get(entry.guid)
        if seen is not None and seen != entry.link and entry.link:
            # The same guid for another post (a broken generator): both are kept, the second
            # known by its link alone, so it is neither dropped nor taken for an edit.
            entry.guid = entry.link
            entry.post_id = identity.platform_post_id("", entry.link, feed_link)
        links_by_guid.setdefault(entry.guid, entry.link)
        entries.append(entry)
    return ParsedFeed(
        title=" ".join(content.strip_control(feed.get("title") or source).split()),
        link=feed_link,
        hub=hub,
        self_url=self_url,
        next_url=next_url,
        entries=entries,
        generator=content.strip_control(str(feed.get("generator") or "")),
        skipped=skipped,
    )
