"""The one rule for a URL that came from outside (a feed, a platform's reply) before it is kept."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit

_URL_JUNK = re.compile(r"[\x00-\x20\x7f\\]")
_ENCODE = str.maketrans({" ": "%20", '"': "%22", "<": "%3C", ">": "%3E", "`": "%60"})

@lru_cache(maxsize=4096)  # an entry's links are checked again on every load from the store
def safe_url(url: str | None) -> str:
    """`url` if it is an absolute http(s) URL with a host, else "".

    Links come from feeds and platforms' replies: a `javascript:` or `data:` URL in one would run
    in a reader's browser from the status page, a reader feed or an email. Whitespace, control
    characters and backslashes, which browsers silently drop or reinterpret, make a URL unfit
    too, rather than being cleaned into something that might then parse differently.
    """
    # What a browser would percent-encode itself; encoded, they cannot end an attribute.
    text = (url or "").strip().translate(_ENCODE)
    if not text or _URL_JUNK.search(text):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text
