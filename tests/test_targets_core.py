"""Every fixture post through the core adapters (smtp, devto, webhook), edge cases included."""

from __future__ import annotations

import json

import pytest

from syndicate import signing
from syndicate.config import webhook_secret

from .conftest import fixture_bytes
from .fakes.devto import API_KEY, DevtoServer
from .fakes.http import LoopbackServer, Reply, Request

HOOK_SECRET = "whsec_aG9vay1yZWNlaXZlci1zZWNyZXQtb2YtdGhlLXRlc3Rz"


class HookReceiver(LoopbackServer):
    """Verifies Standard Webhooks signatures and dedupes on webhook-id, as the scheme asks."""

    def __init__(self) -> None:
        super().__init__()
        self.secret = webhook_secret(HOOK_SECRET, "x")
        self.received: dict[str, dict[str, object]] = {}
        self.calls = 0

    def handle(self, request: Request) -> Reply:
        self.calls += 1
        try:
            msg_id = signing.verify(self.secret, {k.lower(): v for k, v in request.headers.items()},
                                    request.body)
        except signing.SignatureError as exc:
            return Reply(401, {"error": str(exc)})
        self.received.setdefault(msg_id, request.json())
        return Reply(200, {"id": msg_id})


@pytest.fixture
def hook():
    s = HookReceiver().start()
    yield s
    s.stop()


TELEOLOGY = "https://entropic-notes.wordpress.example/2025/06/16/teleology-and-information-dynamics-in-evolution/"
ARTICLE = """<!DOCTYPE html><html><head><title>Teleology</title></head><body>
<nav><a href="/">Home</a> <a href="/about/">About</a></nav>
<article><h1>Teleology and Information Dynamics in Evolution:</h1>
<h2>Exploring the Emergence of Complexity in Molecular Systems</h2>
<p>The traditional narrative of evolution, steered by random mutation and natural selection,
paints a picture of life as an accidental byproduct of chance. Yet the extraordinary order
observed in molecular machines like ATP synthase challenges this view.</p>
<p>Recent developments in non&#8208;equilibrium thermodynamics suggest that driven systems
dissipate energy by organising themselves, and that information flows shape what persists.</p>
<p><img src="/wp-content/uploads/2025/06/atp-synthase.png" alt="ATP synthase"></p>
<p>This essay follows that thread from dissipative structures to the directional drive that
makes molecular machines look as if they were built for a purpose.</p></article>
<footer>Comments are closed.</footer></body></html>"""


def serve_teleology(feed_server, page: str | None = ARTICLE) -> bytes:
    """The WordPress feed with the excerpt-only post's link on the loopback server."""
    local = feed_server.url + "/2025/06/16/teleology/"
    if page is not None:
        feed_server.put("/2025/06/16/teleology/", page.encode())
    return fixture_bytes("wordpress-rss.xml").replace(TELEOLOGY.encode(), local.encode())


def test_backfill_of_every_fixture_post(make_runtime, feed_server, smtp, hook) -> None:
    devto = DevtoServer(rate_limit=False).start()
    try:
        url = feed_server.put("/feed/", serve_teleology(feed_server))
        rt, q = make_runtime(
            sources=[{"name": "wordpress", "url": url, "backfill": True}],
            targets=[
                {"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
                 "security": "none", "from": "a@home.example", "to": ["r@home.example"]},
                {"name": "devto", "kind": "devto", "api_key": API_KEY, "base_url": devto.url},
                {"name": "hook", "kind": "webhook", "url": hook.url + "/in",
                 "secret": HOOK_SECRET},
            ])
        rt.poll("wordpress")
        assert len(q.deliveries) == 18
        for entry_id, target in q.deliveries:
            assert rt.dispatcher.deliver(entry_id, target).state == "delivered", (entry_id, target)
        assert len(smtp.messages) == 6 and len(devto.articles) == 6 and len(hook.received) == 6
        titles = {a["title"] for a in devto.articles}
        assert any(t.startswith("Parallel-Processing Titans") and len(t) <= 128 and t.endswith("…")
                   for t in titles)
        # The excerpt-only post went out with its full text, read from its page.
        teleology = next(a for a in devto.articles if a["title"].startswith("Teleology"))
        md = teleology["body_markdown"]
        assert "non‐equilibrium thermodynamics suggest" in md and "directional drive" in md
        assert f"![ATP synthase]({feed_server.url}/wp-content/uploads/2025/06/atp-synthase.png)" in md
        assert "Comments are closed" not in md and "About" not in md
        empty = next(a for a in devto.articles if a["title"] == "life as an entropic process")
        assert "life-entropy-diagram.jpg" in empty["body_markdown"]
        titans = next(a for a in devto.articles if a["title"].startswith("Parallel"))
        assert "{% embed https://www.youtube.example/embed/abc123 %}" in titans["body_markdown"]
        assert "```\nfor (k = 0; k < K; ++k) acc += a[i][k] * b[k][j];\n```" in titans[
            "body_markdown"]
        payload = next(iter(hook.received.values()))
        assert payload["type"] == "entry.published"
        assert payload["entry"]["canonical_url"].startswith(  # type: ignore[index]
            "https://entropic-notes.wordpress.example/")
        # Every retry of one (entry, target) carries the same webhook-id.
        entry_id, _ = q.deliveries[2]
        rt.ledger.set_state(entry_id, "hook", "pending", allowed_from=("delivered",))
        rt.dispatcher.deliver(entry_id, "hook")
        assert len(hook.received) == 6 and hook.calls == 7
    finally:
        devto.stop()


def test_forged_outbound_signature_is_refused(make_runtime, hook) -> None:
    rt, _ = make_runtime(targets=[{"name": "hook", "kind": "webhook", "url": hook.url,
                                   "secret": "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE="}])
    from syndicate.entry import Entry
    eid, _ = rt.store.upsert(Entry(source="s", guid="g", link="https://x.example/p", title="T"))
    rt.dispatcher.fan_out(eid)
    out = rt.dispatcher.deliver(eid, "hook")
    # A receiver refusing our signature means our secret is wrong: the target is broken.
    assert out.state == "failed" and "401" in out.error and "no webhook-signature" in out.error
    assert json.dumps(rt.deliveries()).count("whsec_") == 0


def test_excerpt_only_post_waits_when_its_page_has_no_article(make_runtime, feed_server, smtp) -> None:
    url = feed_server.put("/feed/", serve_teleology(feed_server, page=None))  # the page is a 404
    rt, q = make_runtime(
        sources=[{"name": "wordpress", "url": url, "backfill": True}],
        targets=[{"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
                  "security": "none", "from": "a@home.example", "to": ["r@home.example"]}])
    rt.poll("wordpress")
    eid = next(e for e, _ in q.deliveries
               if rt.store.get(e).title.startswith("Teleology"))  # type: ignore[union-attr]
    out = rt.dispatcher.deliver(eid, "mail")
    assert out.state == "failed"
    d = rt.ledger.get(eid, "mail")
    assert "waiting for the full text" in d.last_error and "HTTP 404" in d.last_error
    assert smtp.messages == []  # no stub was sent
    # The page appears: the next attempt sends the whole post.
    feed_server.put("/2025/06/16/teleology/", ARTICLE.encode())
    rt.redis.hset(rt.keys.delivery(eid, "mail"), "next_at", 0)
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    assert "directional drive" in smtp.messages[0].get_body(("plain",)).get_content()
