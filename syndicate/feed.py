"""The merged reader feed: RSS 2.0 and Atom 1.0 with feedgen, JSON Feed 1.1 by hand.

The feed builder only reads the store. Rendering happens once per change of the store's feed
version, not per request: `FeedCache` keeps the rendered bytes with their ETag and Last-Modified,
and a request costs one Redis read (the version) plus, when the client already has it, a 304.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urljoin

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator

from . import __version__, content
from .config import SiteConfig
from .entry import Entry
from .identity import plain_text
from .store import EntryStore, FeedState

FORMATS = {
    "rss": ("feed.xml", "application/rss+xml; charset=utf-8"),
    "atom": ("feed.atom", "application/atom+xml; charset=utf-8"),
    "json": ("feed.json", "application/feed+json; charset=utf-8"),
}
log = logging.getLogger("syndicate.feed")
xml_safe = content.strip_control  # the store is clean already; this guards older entries


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts or 0, tz=UTC)


def _excerpt(html: str, limit: int = 280) -> str:
    text = " ".join(plain_text(html).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _entry_id(entry: Entry) -> str:
    return entry.guid if re.match(r"^[a-z][a-z0-9+.-]*:", entry.guid or "") else entry.link


def _generator(site: SiteConfig, fmt: str, entries: list[Entry],
               empty_since: float | None = None) -> FeedGenerator:
    fg = FeedGenerator()
    home = site.url
    fg.id(home)
    fg.title(xml_safe(site.title))
    # feedgen takes the RSS channel's <link> from the last link given: the site, not the feed.
    fg.link(href=urljoin(home, FORMATS[fmt][0]), rel="self")
    fg.link(href=home, rel="alternate")
    if site.hub:
        fg.link(href=site.hub, rel="hub")
    if site.author:
        fg.author({"name": site.author})
    fg.description(xml_safe(site.description or site.title))
    fg.subtitle(xml_safe(site.description or site.title))
    fg.language(site.language)
    fg.generator("syndicate", version=__version__)
    # An empty feed is as old as the installation (when it first served), not 1970.
    newest = max((e.updated or e.published for e in entries),
                 default=empty_since or time.time())
    fg.updated(_dt(newest))
    fg.lastBuildDate(_dt(newest))
    if fmt == "rss":
        fg.load_extension("dc")
    for entry in entries:  # newest first, as readers expect
        fe = fg.add_entry(order="append")
        try:
            _add(fe, entry, fmt)
        except Exception:  # one odd entry must never take the whole feed down for readers
            log.exception("reader feed: entry %s left out of the %s feed", entry.id, fmt)
            fg.remove_entry(fe)
    return fg


def _add(fe: FeedEntry, entry: Entry, fmt: str) -> None:
    entry_id = xml_safe(_entry_id(entry))
    fe.id(entry_id)
    fe.title(xml_safe(entry.title))
    if entry.link:
        fe.link(href=xml_safe(entry.link), rel="alternate")
    if fmt == "rss":
        fe.guid(entry_id, permalink=entry_id == entry.link)
    fe.published(_dt(entry.published))
    fe.updated(_dt(entry.updated or entry.published))
    body = xml_safe(entry.body_html)
    if body:
        fe.content(body, type="html" if fmt == "atom" else None)
    if entry.summary and entry.summary != entry.content_html:
        fe.summary(xml_safe(entry.summary), type="html")
    elif fmt == "rss" and body:
        # RSS writes content:encoded only beside a description: give it a short excerpt.
        fe.summary(xml_safe(_excerpt(body)))
    if entry.author and fmt == "atom":
        fe.author({"name": xml_safe(entry.author)})
    elif entry.author:
        fe.dc.dc_creator(xml_safe(entry.author))  # RSS's <author> must be an email address
    for cat in entry.categories:
        fe.category(term=xml_safe(cat))


def render_json(site: SiteConfig, entries: list[Entry]) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    items = []
    for e in entries:
        item: dict[str, object] = {
            "id": _entry_id(e),
            "url": e.link,
            "title": e.title,
            "content_html": e.body_html,
            "date_published": _dt(e.published).isoformat(),
            "date_modified": _dt(e.updated or e.published).isoformat(),
        }
        if e.summary and e.summary != e.content_html:
            item["summary"] = _excerpt(e.summary)  # JSON Feed: a plain-text summary
        if e.image:
            item["image"] = e.image
        if e.author:
            item["authors"] = [{"name": e.author}]
        if e.categories:
            item["tags"] = e.categories
        items.append(item)
    doc: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": site.title,
        "home_page_url": site.url,
        "feed_url": urljoin(site.url, FORMATS["json"][0]),
        "language": site.language,
        "items": items,
    }
    if site.description:
        doc["description"] = site.description
    if site.author:
        doc["authors"] = [{"name": site.author}]
    if site.hub:
        doc["hubs"] = [{"type": "WebSub", "url": site.hub}]
    return json.dumps(doc, ensure_ascii=False, indent=1).encode()


def _xml(site: SiteConfig, fmt: str, entries: list[Entry],
         empty_since: float | None = None) -> bytes:
    fg = _generator(site, fmt, entries, empty_since)
    return bytes(fg.rss_str(pretty=False) if fmt == "rss" else fg.atom_str(pretty=False))


def render(site: SiteConfig, fmt: str, entries: list[Entry], *,
           empty_since: float | None = None) -> bytes:
    """The feed's bytes. An entry that cannot be written (whatever the reason) is left out,
    with a log line: a reader feed never answers 500 because of one post."""
    if fmt == "json":
        return render_json(site, entries)
    try:
        return _xml(site, fmt, entries, empty_since)
    except Exception:
        good = []
        for e in entries:  # only on failure: find the entries that cannot be written
            try:
                _xml(site, fmt, [e])
                good.append(e)
            except Exception:
                log.exception("reader feed: entry %s left out of the %s feed", e.id, fmt)
        return _xml(site, fmt, good)


@dataclass(frozen=True)
class Rendered:
    version: int
    body: bytes
    etag: str
    last_modified: str
    content_type: str
    # Compressed once per change: feed readers almost all ask for gzip, and 50 full posts
    # shrink several times over, which is most of what a busy feed costs to serve.
    gzipped: bytes

    @property
    def gzip_etag(self) -> str:
        # A strong ETag names one representation, so the gzip body has its own (RFC 9110 8.8.3).
        return self.etag[:-1] + '-gz"'


class FeedCache:
    """Rendered feeds, one per format, kept until the store's feed version moves.

    The version itself is read from Redis at most once per `freshness` seconds, so a burst of
    readers costs no Redis round trip at all; a new post shows up within that second.
    """

    def __init__(self, store: EntryStore, site: SiteConfig, freshness: float = 1.0) -> None:
        self.store = store
        self.site = site
        self.freshness = freshness
        self._cache: dict[str, Rendered] = {}
        self._lock = threading.Lock()
        self._state: tuple[float, FeedState] | None = None
        self.started = store.started()
        self.renders = 0

    def _feed_state(self) -> FeedState:
        now = time.monotonic()
        if self._state is None or now - self._state[0] >= self.freshness:
            self._state = (now, self.store.feed_state())
        return self._state[1]

    def get(self, fmt: str) -> Rendered:
        state = self._feed_state()
        cached = self._cache.get(fmt)
        if cached is not None and cached.version == state.version:
            return cached
        with self._lock:  # one render per change, however many requests arrive at once
            cached = self._cache.get(fmt)
            if cached is not None and cached.version == state.version:
                return cached
            body = render(self.site, fmt, self.store.latest(self.site.feed_size),
                          empty_since=self.started)
            self.renders += 1
            digest = hashlib.sha256(body).hexdigest()[:24]
            changed = _dt(state.changed_at) if state.changed_at else datetime.now(UTC)
            rendered = Rendered(
                version=state.version,
                body=body,
                etag=f'"{fmt}-{state.version}-{digest}"',
                last_modified=format_datetime(changed.replace(microsecond=0), usegmt=True),
                content_type=FORMATS[fmt][1],
                gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            )
            self._cache[fmt] = rendered
            return rendered
