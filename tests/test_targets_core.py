"""Every fixture post through the core adapters (smtp, devto, webhook), edge cases included."""

from __future__ import annotations

import json

import pytest

from syndicate import signing
from syndicate.config import webhook_secret

from .conftest import fixture_bytes
from .fakes.devto import API_KEY, DevtoServer
from .fakes.http import LoopbackServer, Reply, Request

HOOK_SECRET = "whsec_aG9vay1yZWNlaXZlci1zZWNyZXQ="


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


def test_backfill_of_every_fixture_post(make_runtime, feed_server, smtp, hook) -> None:
    devto = DevtoServer(rate_limit=False).start()
    try:
        url = feed_server.put("/feed/", fixture_bytes("wordpress-rss.xml"))
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
        teleology = next(a for a in devto.articles if a["title"].startswith("Teleology"))
        assert "non‐equilibrium" in teleology["body_markdown"]
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
                                   "secret": "whsec_d3Jvbmc="}])
    from syndicate.entry import Entry
    eid, _ = rt.store.upsert(Entry(source="s", guid="g", link="https://x.example/p", title="T"))
    rt.dispatcher.fan_out(eid)
    out = rt.dispatcher.deliver(eid, "hook")
    assert out.state == "dead" and "401" in out.error
    assert json.dumps(rt.deliveries()).count("whsec_") == 0
