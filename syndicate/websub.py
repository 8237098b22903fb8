"""WebSub subscriptions (https://www.w3.org/TR/websub/): be woken by the source's hub at once.

After a successful poll of a source whose feed names a hub, we ask the hub to push to
`<site url>/websub/<source>` with a secret of our own, and renew before the lease runs out.
The hub then checks the request with a GET carrying `hub.challenge` (`web.websub_verify`).
A hub cannot call back to a loopback address, so no request is sent while `[site] url` is local,
unless the hub is local too (a hub of your own, or the tests').
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import redis
import requests

from .config import SiteConfig, SourceConfig
from .errors import FetchError
from .fetch import post_form
from .keys import Keys

log = logging.getLogger("syndicate.websub")

LEASE_SECONDS = 10 * 86400
MAX_LEASE = LEASE_SECONDS  # a hub may grant less than we ask, never more
RENEW_BEFORE = 86400.0  # renew a day before the lease ends
RETRY_UNVERIFIED = 3600.0  # ask again if the hub never verified within this long


def _local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def lease(value: str | None) -> float:
    """The lease a hub granted, capped: a lease of centuries would stop renewal for good, and a
    number too long for a float must not become a 500."""
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 12:
        return float(LEASE_SECONDS)
    return float(min(max(int(text), 60), MAX_LEASE))


def callback_url(site: SiteConfig, source: str) -> str:
    return urljoin(site.url, f"websub/{source}")


def topic_for(src: SourceConfig, state: dict[str, str]) -> str:
    # WebSub 4: subscribe to the topic the feed names as rel="self", if it names one.
    return state.get("self_url") or src.url


def needs_subscription(site: SiteConfig, src: SourceConfig, state: dict[str, str],
                       now: float) -> bool:
    hub = state.get("hub")
    if not src.websub or not hub:
        return False
    if _local(site.url) and not _local(hub):
        return False
    if state.get("websub_hub") != hub or state.get("websub_topic") != topic_for(src, state):
        return True
    lease_until = float(state.get("websub_lease_until") or 0)
    if lease_until:
        return lease_until - now < RENEW_BEFORE
    return now - float(state.get("websub_requested_at") or 0) > RETRY_UNVERIFIED


def subscribe(r: redis.Redis, keys: Keys, site: SiteConfig, src: SourceConfig,
              state: dict[str, str], session: requests.Session | None = None) -> bool:
    """Ask the hub for pushes; True if it accepted the request (it verifies on its own time)."""
    hub = state["hub"]
    topic = topic_for(src, state)
    secret = state.get("websub_secret") or secrets.token_hex(32)
    # Record first: the hub's verification GET may arrive before its answer to this POST.
    record: dict[Any, Any] = {
        "websub_secret": secret, "websub_hub": hub, "websub_topic": topic,
        "websub_pending": "subscribe", "websub_requested_at": repr(time.time())}
    if state.get("websub_hub") != hub or state.get("websub_topic") != topic:
        record["websub_lease_until"] = "0"  # a renewal keeps the running lease until verified
    r.hset(keys.source(src.name), mapping=record)
    form = {"hub.mode": "subscribe", "hub.topic": topic,
            "hub.callback": callback_url(site, src.name), "hub.secret": secret,
            "hub.lease_seconds": str(LEASE_SECONDS)}
    # The hub's URL comes from the feed: it goes through the same guard as the feed itself.
    try:
        status = post_form(hub, form, session=session, allow_private=src.allow_private)
    except FetchError as exc:
        log.warning("websub: not asking hub of %s: %s", src.name, exc)
        return False
    if status not in (202, 204):
        log.warning("websub: hub %s refused %s: HTTP %d", hub, src.name, status)
        return False
    log.info("websub: asked %s to push %s to %s", hub, topic, form["hub.callback"])
    return True


def feed_urls(site: SiteConfig) -> list[str]:
    return [urljoin(site.url, name) for name in ("feed.xml", "feed.atom", "feed.json")]


def ping_hub(site: SiteConfig, session: requests.Session | None = None) -> bool:
    """Tell the readers' hub that the merged feed changed (`hub.mode=publish`), so it pushes the
    new entries to subscribers at once instead of waiting for their next poll."""
    if not site.hub:
        return False
    form = [("hub.mode", "publish"), *(("hub.url", u) for u in feed_urls(site))]
    try:
        # The readers' hub is the operator's own choice ([site] hub): it may be private.
        status = post_form(site.hub, form, session=session, allow_private=True)
    except FetchError as exc:
        log.warning("websub: cannot ping hub %s: %s", site.hub, exc)
        return False
    if status >= 300:
        log.warning("websub: hub %s answered the ping with HTTP %d", site.hub, status)
        return False
    return True
