"""Backfill: pages back through Blogger (start-index) and WordPress (?paged=N), oldest first."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

from syndicate import backfill as bf

from .conftest import OUTBOUND_SECRET
from .fakes.http import LoopbackServer, Reply, Request
from .service import write_config

DAY = 86400
T0 = datetime(2024, 1, 1, tzinfo=UTC).timestamp()


def atom_entry(i: int) -> str:
    when = datetime.fromtimestamp(T0 + i * DAY, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return (f"<entry><id>tag:blogger.com,1999:blog-1.post-{1000 + i}</id>"
            f"<published>{when}</published><updated>{when}</updated>"
            f"<title type='text'>Old post {i}</title>"
            f"<content type='html'>&lt;p&gt;Body {i}.&lt;/p&gt;</content>"
            f"<link rel='alternate' type='text/html' href='https://b.example/{i}.html'/></entry>")


def rss_item(i: int) -> str:
    when = datetime.fromtimestamp(T0 + i * DAY, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (f"<item><title>WP post {i}</title><link>https://w.example/{i}/</link>"
            f"<guid isPermaLink='false'>https://w.example/?p={i}</guid><pubDate>{when}</pubDate>"
            f"<description>Body {i}.</description></item>")


class PagedBlogs(LoopbackServer):
    """60 Blogger posts paged by start-index/max-results; 23 WordPress posts by ?paged=N."""

    def __init__(self) -> None:
        super().__init__()
        self.blogger = list(range(60))[::-1]  # newest first, as feeds list them
        self.wordpress = list(range(23))[::-1]
        self.seen: list[str] = []

    def handle(self, request: Request) -> Reply:
        self.seen.append(request.path + "?" + "&".join(f"{k}={v}" for k, v in
                                                       sorted(request.query.items())))
        if request.path == "/feeds/posts/default":
            start = int(request.query.get("start-index", 1))
            size = int(request.query.get("max-results", 25))
            page = self.blogger[start - 1:start - 1 + size]
            body = ("<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
                    "<id>tag:blogger.com,1999:blog-1</id><title>B</title>"
                    "<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>"
                    + "".join(atom_entry(i) for i in page) + "</feed>")
            return Reply(200, body, content_type="application/atom+xml")
        if request.path == "/feed/":
            n = int(request.query.get("paged", 1))
            page = self.wordpress[(n - 1) * 10:n * 10]
            if not page:
                return Reply(404, "<html>Not found</html>", content_type="text/html")
            body = ("<?xml version='1.0'?><rss version='2.0'><channel><title>W</title>"
                    "<link>https://w.example</link><generator>https://wordpress.org/?v=6.8.1"
                    "</generator>" + "".join(rss_item(i) for i in page) + "</channel></rss>")
            return Reply(200, body, content_type="application/rss+xml")
        return Reply(404, "no")


def runtime(make_runtime, server):
    return make_runtime(
        sources=[{"name": "blogger", "url": server.url + "/feeds/posts/default"},
                 {"name": "wordpress", "url": server.url + "/feed/"}],
        targets=[{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/x",
                  "secret": OUTBOUND_SECRET},
                 {"name": "other", "kind": "webhook", "url": "http://127.0.0.1:9/y",
                  "secret": OUTBOUND_SECRET}])


def test_blogger_paging_oldest_first(make_runtime) -> None:
    server = PagedBlogs().start()
    try:
        rt, q = runtime(make_runtime, server)
        plan = bf.plan(rt, "blogger")
        assert plan.scheme == "blogger" and plan.pages == 3
        assert [e.title for e in plan.entries] == [f"Old post {i}" for i in range(60)]
        assert "/feeds/posts/default?max-results=25&start-index=26" in server.seen
        opened = bf.queue(rt, plan.entries, bf.targets_for(rt, "hook"))
        assert opened == 60 and [rt.store.get(e).title for e, _ in q.deliveries][:2] == [
            "Old post 0", "Old post 1"]
        # Again: every (entry, target) already has its delivery; nothing twice.
        assert bf.queue(rt, plan.entries, ["hook"]) == 0
        assert bf.queue(rt, plan.entries, ["hook", "other"]) == 60
    finally:
        server.stop()


def test_wordpress_paging_since_and_limit(make_runtime) -> None:
    server = PagedBlogs().start()
    try:
        rt, _ = runtime(make_runtime, server)
        plan = bf.plan(rt, "wordpress", since=T0 + 5 * DAY, limit=10)
        assert plan.scheme == "wordpress"
        assert [e.title for e in plan.entries] == [f"WP post {i}" for i in range(13, 23)]
        assert "/feed/?paged=2" in server.seen
        everything = bf.plan(rt, "wordpress")
        assert len(everything.entries) == 23 and everything.pages == 3  # page 4 is a 404
    finally:
        server.stop()


def test_cli_dry_run_changes_nothing(make_runtime, tmp_path, redis_url, prefix) -> None:
    server = PagedBlogs().start()
    try:
        rt, _ = runtime(make_runtime, server)
        cfg = write_config(tmp_path / "c.toml", sources=[
            {"name": "blogger", "url": server.url + "/feeds/posts/default"}],
            targets=[{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/x",
                      "secret": OUTBOUND_SECRET}], webhook_secret=OUTBOUND_SECRET)
        env = {"REDIS_URL": redis_url, "SYNDICATE_REDIS_PREFIX": prefix, "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-m", "syndicate", "backfill", "blogger",
                              "--config", str(cfg), "--dry-run", "--since", "2024-02-01"],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0].startswith("2024-02-01  Old post 31  ->  hook")
        assert "dry run: 29 entries from 2 pages (blogger paging) would go to 1 targets" in \
            out.stdout
        assert rt.store.count() == 0 and rt.ledger.all() == []
        real = subprocess.run([sys.executable, "-m", "syndicate", "backfill", "blogger",
                               "--config", str(cfg), "--limit", "5"],
                              capture_output=True, text=True, env=env, timeout=60)
        assert "5 entries from 3 pages: 5 deliveries queued" in real.stdout, real.stderr
        assert len(rt.ledger.all()) == 5
    finally:
        server.stop()
