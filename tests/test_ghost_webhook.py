"""Ghost's publish webhooks as a source: the post is in the request, stored and sent on at once
with no poll; the same post seen later in Ghost's feed stays one entry."""

from __future__ import annotations

import base64
import json
import time

import pytest

from syndicate import ghosthook
from syndicate.errors import ConfigError
from syndicate.web import create_app

from .conftest import OUTBOUND_SECRET
from .fakes.http import LoopbackServer, Reply, Request

SECRET = "ghost-webhook-secret-of-the-tests-123"
POST = {"id": "6750c1f2a1b2c3d4e5f60718", "uuid": "9b1c", "title": "Negentropy and the Mind",
        "url": "https://entropic.ghost.example/negentropy-and-the-mind/", "status": "published",
        "html": "<p>" + "Order is kept only while energy flows in. " * 12 + "</p>",
        "custom_excerpt": "Why minds export entropy.", "feature_image":
        "https://entropic.ghost.example/content/images/n.png",
        "published_at": "2025-12-01T10:00:00.000Z", "updated_at": "2025-12-01T10:00:00.000Z",
        "primary_author": {"name": "Sanjay Basu"}, "tags": [{"name": "Entropy"}]}


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []

    def handle(self, request: Request) -> Reply:
        self.titles.append(request.json()["entry"]["title"])
        return Reply(200, b"ok")


def signed(post: dict[str, object], secret: str = SECRET, ts: int | None = None
           ) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"post": {"current": post, "previous": {}}}).encode()
    return body, {"Content-Type": "application/json",
                  "X-Ghost-Signature": ghosthook.signature(secret.encode(), body, ts)}


@pytest.fixture
def site(make_runtime, feed_server):
    receiver = Receiver().start()
    rt, q = make_runtime(
        sources=[{"name": "ghost", "kind": "ghost_webhook", "secret": SECRET}],
        targets=[{"name": "hook", "kind": "webhook", "url": receiver.url + "/x",
                  "secret": OUTBOUND_SECRET},
                 {"name": "hook2", "kind": "webhook", "url": receiver.url + "/y",
                  "secret": OUTBOUND_SECRET}])
    yield rt, q, create_app(rt).test_client(), receiver
    receiver.stop()


def test_a_published_post_is_sent_at_once_without_a_poll(site) -> None:
    rt, q, client, receiver = site
    started = time.monotonic()
    body, hdrs = signed(POST)
    resp = client.post("/hooks/ghost?source=ghost", data=body, headers=hdrs)
    assert resp.status_code == 202 and resp.get_json()["status"] == "new"
    for entry_id, target in list(q.deliveries):
        assert rt.dispatcher.deliver(entry_id, target).state == "delivered"
    elapsed = time.monotonic() - started
    print(f"\nGhost webhook -> 2 deliveries in {elapsed * 1000:.0f} ms")
    assert receiver.titles == ["Negentropy and the Mind"] * 2  # one per target
    assert q.polls == []
    e = rt.store.get(resp.get_json()["entry_id"])
    assert e.author == "Sanjay Basu" and e.categories == ["Entropy"] and e.image
    # Ghost retries a webhook it thinks failed: the same post is the same entry.
    body, hdrs = signed(POST)
    assert client.post("/hooks/ghost", data=body, headers=hdrs).get_json()["status"] == "same"
    assert len(q.deliveries) == 2


def test_an_edit_updates_and_the_feed_copy_is_the_same_entry(site, feed_server) -> None:
    rt, q, client, _ = site
    body, hdrs = signed(POST)
    eid = client.post("/hooks/ghost", data=body, headers=hdrs).get_json()["entry_id"]
    edited = {**POST, "html": POST["html"] + "<p>A correction.</p>",
              "updated_at": "2025-12-01T12:00:00.000Z"}
    body, hdrs = signed(edited)
    assert client.post("/hooks/ghost", data=body, headers=hdrs).get_json()["status"] == "changed"
    # Ghost's own RSS: the guid is the post's id, the link its URL.
    rss = f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
    <title>Entropic</title><link>https://entropic.ghost.example/</link>
    <item><title>{POST['title']}</title><link>{POST['url']}</link>
    <guid isPermaLink="false">{POST['id']}</guid><pubDate>Mon, 01 Dec 2025 10:00:00 GMT</pubDate>
    <description><![CDATA[{edited['html']}]]></description></item></channel></rss>""".encode()
    url = feed_server.put("/ghost/rss/", rss)
    from syndicate.runtime import Runtime

    from .conftest import ListQueue, make_config
    feed_rt = Runtime.open(make_config(
        rt.config.redis.url or "", rt.keys.prefix,
        sources=[{"name": "ghost", "kind": "ghost_webhook", "secret": SECRET, "url": url,
                  "backfill": True}]), queue=ListQueue(), r=rt.redis)
    result = feed_rt.poll("ghost")
    assert result.new == [] and rt.store.count() == 1 and rt.store.find(POST["url"]).id == eid


@pytest.mark.parametrize("how", ["no signature", "wrong secret", "an hour old", "tampered"])
def test_forged_or_stale_webhooks_store_nothing(site, how: str) -> None:
    rt, q, client, _ = site
    body, hdrs = signed(POST, secret="another-secret-of-length-24-or-more")
    if how == "no signature":
        hdrs.pop("X-Ghost-Signature")
    elif how == "an hour old":
        body, hdrs = signed(POST, ts=int((time.time() - 3600) * 1000))
    elif how == "tampered":
        body, hdrs = signed(POST)
        body = body.replace(b"Negentropy", b"Entropy!!!")
    resp = client.post("/hooks/ghost?source=ghost", data=body, headers=hdrs)
    assert resp.status_code == 401
    assert rt.store.count() == 0 and q.deliveries == []


def test_unknown_source_and_drafts(site) -> None:
    rt, q, client, _ = site
    body, hdrs = signed(POST)
    assert client.post("/hooks/ghost?source=nope", data=body, headers=hdrs).status_code == 404
    body, hdrs = signed({**POST, "status": "draft"})
    assert client.post("/hooks/ghost", data=body, headers=hdrs).get_json()["status"] == "ignored"
    assert rt.store.count() == 0


def test_a_ghost_webhook_source_needs_its_secret(redis_url, prefix) -> None:
    from .conftest import make_config

    with pytest.raises(ConfigError, match=r"sources\[g\]\.secret: is required"):
        make_config(redis_url, prefix, sources=[{"name": "g", "kind": "ghost_webhook"}])
    weak = base64.b64encode(b"short").decode()
    with pytest.raises(ConfigError, match="too weak"):
        make_config(redis_url, prefix, sources=[{"name": "g", "kind": "ghost_webhook",
                                                 "secret": "whsec_" + weak}])
