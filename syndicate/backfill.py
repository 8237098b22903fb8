"""`syndicate backfill`: bring older posts over on purpose, paging back through a source.

Feeds show only their newest entries, so older posts are reached the way each platform pages:
Blogger with `start-index`/`max-results`, WordPress with `?paged=N`, anything else by its
`rel="next"` link (RFC 5005). Entries are recorded in the store as usual (so they are never new
again), and a delivery is opened for each (entry, target) that has none, oldest first. Rate
limits are the dispatcher's, as for any delivery. The flood breaker does not apply: this is the
operator's own decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .config import SourceConfig
from .entry import Entry
from .errors import FetchError, SyndicateError
from .fetch import fetch
from .parse import ParsedFeed, parse_feed
from .runtime import Runtime

log = logging.getLogger("syndicate.backfill")

PAGE_SIZE = 25
MAX_PAGES = 400


def with_query(url: str, **params: object) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update({k.replace("_", "-") if k in ("start_index", "max_results") else k: str(v)
                  for k, v in params.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))


def scheme(src: SourceConfig, first: ParsedFeed) -> str:
    if "/feeds/posts/" in urlsplit(src.url).path or "blogger" in first.generator.lower():
        return "blogger"
    if "wordpress" in first.generator.lower():
        return "wordpress"
    return "next"


@dataclass
class Plan:
    entries: list[Entry] = field(default_factory=list)
    pages: int = 0
    scheme: str = ""


def _page(rt: Runtime, src: SourceConfig, url: str) -> ParsedFeed | None:
    try:
        fetched = fetch(url, timeout=src.timeout, max_bytes=src.max_bytes,
                        allow_private=src.allow_private)
    except FetchError as exc:
        if exc.status == 404:  # WordPress answers 404 past its last page
            return None
        raise
    return parse_feed(fetched.body, fetched.url, src.name, fetched.content_type)


def pages(rt: Runtime, src: SourceConfig) -> Iterator[tuple[str, ParsedFeed]]:
    first_url = with_query(src.url, start_index=1, max_results=PAGE_SIZE) if \
        "/feeds/posts/" in src.url else src.url
    first = _page(rt, src, first_url)
    if first is None:
        return
    kind = scheme(src, first)
    yield kind, first
    seen = {e.guid for e in first.entries}
    for n in range(2, MAX_PAGES + 1):
        if kind == "blogger":
            url = with_query(src.url, start_index=(n - 1) * PAGE_SIZE + 1, max_results=PAGE_SIZE)
        elif kind == "wordpress":
            url = with_query(src.url, paged=n)
        elif first.next_url:
            url = first.next_url
        else:
            return
        page = _page(rt, src, url)
        fresh = [e for e in page.entries if e.guid not in seen] if page else []
        if page is None or not fresh:
            return
        seen.update(e.guid for e in fresh)
        yield kind, page
        first = page


def plan(rt: Runtime, source: str, *, since: float | None = None, limit: int | None = None,
         on_page: Callable[[int, int], None] = lambda pages, entries: None) -> Plan:
    """Every entry of the source (after `since`; the newest `limit`), oldest first."""
    src = rt.config.source(source)
    if src is None or not src.enabled:
        raise SyndicateError(f"no enabled source named {source!r}")
    out = Plan()
    for kind, page in pages(rt, src):
        out.scheme = kind
        out.pages += 1
        out.entries += page.entries
        on_page(out.pages, len(out.entries))
        if since and page.entries and min(e.published for e in page.entries) < since:
            break  # pages go back in time: the rest is older still
    entries = [e for e in out.entries if not since or e.published >= since]
    entries.sort(key=lambda e: e.published)
    out.entries = entries[-limit:] if limit else entries
    return out


def queue(rt: Runtime, entries: list[Entry], targets: list[str],
          on_entry: Callable[[Entry, int], None] = lambda e, n: None) -> int:
    """Record each entry and open the deliveries it does not have yet; returns how many."""
    opened = 0
    for entry in entries:
        entry_id, _ = rt.store.upsert(entry, deliver=False)
        n = 0
        for target in targets:
            if rt.ledger.create(entry_id, target):
                rt.queue.deliver(entry_id, target)
                n += 1
        opened += n
        on_entry(entry, n)
    return opened


def targets_for(rt: Runtime, target: str | None) -> list[str]:
    if target:
        cfg = rt.config.target(target)
        if cfg is None or not cfg.enabled:
            raise SyndicateError(f"no enabled target named {target!r}")
        return [cfg.name]
    # A digest of years of posts is nobody's wish: name a digest target to backfill into it.
    return [t.name for t in rt.config.enabled_targets if t.options.get("mode") != "digest"]
