"""The full text of a post whose feed carried only an excerpt, read from the post's own page.

WordPress sites set to "summary" put only a teaser in the feed. Posting the teaser would be a
stub; so before any target gets such an entry, we fetch its page, take the article with
readability, clean it like any feed body, and keep it in Redis. If that fails, the delivery
waits and says why (a `TransientError`), rather than posting the stub.
"""

from __future__ import annotations

import logging

import redis

from . import content, identity
from .entry import Entry
from .errors import FetchError, TransientError
from .fetch import fetch
from .keys import Keys

log = logging.getLogger("syndicate.fulltext")

PAGE_MAX_BYTES = 5 * 1024 * 1024
CACHE_TTL = 30 * 86400


def extract(page: bytes, url: str) -> str:
    """The article of an HTML page, as clean HTML with absolute URLs ('' if none is found)."""
    from readability import Document  # only sources with `full_text` need it

    try:
        article = Document(page, url=url).summary(html_partial=True)
    except Exception as exc:  # readability raises bare Exceptions on odd pages
        log.info("readability could not read %s: %s", url, exc)
        return ""
    return content.clean_html(article, url)


class FullText:
    def __init__(self, r: redis.Redis, keys: Keys, *, allow_private: bool = False) -> None:
        self.r = r
        self.keys = keys
        self.allow_private = allow_private

    def complete(self, entry: Entry) -> Entry:
        """`entry` with its full body, or raise `TransientError` saying why it must wait."""
        if not entry.excerpt_only:
            return entry
        cached: bytes | None = self.r.get(self.keys.fulltext(entry.id))  # type: ignore[assignment]
        if cached:
            body = cached.decode()
        else:
            body = self._recover(entry)
            self.r.set(self.keys.fulltext(entry.id), body, ex=CACHE_TTL)
        entry.content_html = body
        entry.excerpt_only = False
        return entry

    def _recover(self, entry: Entry) -> str:
        why = "waiting for the full text (the feed has only an excerpt)"
        try:
            page = fetch(entry.link, timeout=20, max_bytes=PAGE_MAX_BYTES,
                         accept="text/html,application/xhtml+xml", allow_private=self.allow_private)
        except FetchError as exc:
            raise TransientError(f"{why}: {exc}") from None
        body = extract(page.body, entry.link)
        if len(identity.normalize_text(body)) <= len(identity.normalize_text(entry.summary)):
            raise TransientError(f"{why}: the page {entry.link} has no article longer than the "
                                 "excerpt")
        return body
