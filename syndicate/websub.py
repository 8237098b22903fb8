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
from urllib.parse import urljoin, urlsplit

import redis
import requests

from .config import SiteConfig, SourceConfig
from .fetch import USER_AGENT
from .keys import Keys

log = logging.getLogger("syndicate.websub")

LEASE_SECONDS = 10 * 86400
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
    r.hset(keys.source(src.name), mapping={
        "websub_secret": secret, "websub_hub": hub, "websub_topic": topic,
        "websub_requested_at": repr(time.time()), "websub_lease_until": 0})
    form = {"hub.mode": "subscribe", "hub.topic": topic,
            "hub.callback": callback_url(site, src.name), "hub.secret": secret,
            "hub.lease_seconds": str(LEASE_SECONDS)}
    try:
        resp = (session or requests).post(hub, data=form, timeout=15,
                                          headers={"User-Agent": USER_AGENT})
    except requests.RequestException as exc:
        log.warning("websub: cannot reach hub %s for %s: %s", hub, src.name, exc)
        return False
    if resp.status_code not in (202, 204):
        log.warning("websub: hub %s refused %s: HTTP %d %s", hub, src.name, resp.status_code,
                    resp.text[:200])
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
        resp = (session or requests).post(site.hub, data=form, timeout=15,
                                          headers={"User-Agent": USER_AGENT})
    except requests.RequestException as exc:
        log.warning("websub: cannot ping hub %s: %s", site.hub, exc)
        return False
    if resp.status_code >= 300:
        log.warning("websub: hub %s answered the ping with HTTP %d", site.hub, resp.status_code)
        return False
    return True
