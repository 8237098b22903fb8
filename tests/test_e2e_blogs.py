"""End to end: every fixture post reaches all five blog platforms exactly once, through real
worker processes, with dev.to's rate limit respected and the excerpt-only post sent in full."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from syndicate.identity import normalize_url

from .conftest import OUTBOUND_SECRET, fixture_bytes
from .service import Service, wait_for, write_config
from .test_preview import all_targets, start_all
from .test_targets_core import serve_teleology


def test_all_fixture_posts_to_all_blog_platforms_once(tmp_path: Path, redis_url: str, prefix: str,
                                                      feed_server) -> None:
    servers = start_all()
    try:
        blogger = feed_server.put("/feeds/posts/default", fixture_bytes("blogger-atom.xml"))
        wordpress = feed_server.put("/feed/", serve_teleology(feed_server))
        targets = [t for t in all_targets(servers) if t["kind"] != "smtp"]
        for t in targets:
            t["timeout"] = "5s"
        cfg = write_config(
            tmp_path / "c.toml",
            sources=[{"name": "blogger", "url": blogger, "backfill": True, "poll_interval": "1h"},
                     {"name": "wordpress", "url": wordpress, "backfill": True,
                      "poll_interval": "1h"}],
            targets=targets, webhook_secret=OUTBOUND_SECRET)
        svc = Service(cfg, {"REDIS_URL": redis_url, "SYNDICATE_REDIS_PREFIX": prefix}, tmp_path)
        svc.start()
        try:
            def delivered() -> list[dict[str, object]]:
                items = requests.get(svc.url + "/api/deliveries", timeout=5).json()
                ok = [d for d in items if d["state"] == "delivered"]
                return ok if len(ok) == 45 else []

            started = time.monotonic()
            wait_for(delivered, timeout=120, interval=0.5, what="45 deliveries")
            print(f"\n9 posts x 5 platforms delivered in {time.monotonic() - started:.1f}s")
            svc.stop_one("worker")
            svc.start_worker()
            assert svc.cli("poll").returncode == 0
            time.sleep(3)
        finally:
            svc.stop()
        posts = {name: server.posts for name, server in servers.items()}
        canon = {
            "devto": lambda p: p["canonical_url"], "medium": lambda p: p["canonicalUrl"],
            "hashnode": lambda p: p["canonicalUrl"], "ghost": lambda p: p["canonical_url"],
            "wordpress": lambda p: p["content"]["raw"].rsplit('href="', 1)[1].split('"', 1)[0],
        }
        for name, items in posts.items():
            links = [normalize_url(canon[name](p)) for p in items]
            assert len(links) == 9 and len(set(links)) == 9, (name, links)
        assert servers["devto"].rejected == 0
        teleology = next(p for p in posts["ghost"] if p["title"].startswith("Teleology"))
        assert "directional drive" in teleology["html"]
    finally:
        for server in servers.values():
            server.stop()
