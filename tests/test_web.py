"""HTTP routes: feeds with ETag/304, the signed publish webhook, WebSub, deliveries, health."""

from __future__ import annotations

import gzip
import json
import time
import uuid

import feedparser
import pytest

from syndicate import signing
from syndicate.config import webhook_secret
from syndicate.web import create_app

from .conftest import WEBHOOK_SECRET, fixture_bytes
from .test_poller import sources

SECRET = webhook_secret(WEBHOOK_SECRET, "t")
assert SECRET is not None


def signed(body: dict[str, object], *, msg_id: str | None = None, ts: int | None = None,
           secret: bytes = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    hdrs = signing.headers(secret, msg_id or f"msg_{uuid.uuid4().hex}", raw, timestamp=ts)
    return raw, {**hdrs, "Content-Type": "application/json"}


@pytest.fixture
def app(make_runtime, feed_server):
    rt, q = make_runtime(sources=sources(feed_server))
    rt.poll("blogger")
    rt.poll("wordpress")
    return create_app(rt), rt, q


@pytest.mark.parametrize("path", ["/feed.xml", "/feed.atom"])
def test_feeds_carry_all_posts_and_parse_clean(app, path) -> None:
    client = app[0].test_client()
    resp = client.get(path)
    assert resp.status_code == 200
    parsed = feedparser.parse(resp.data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 9
    titles = [e.title for e in parsed.entries]
    assert titles[0] == "The Synthetic Mind"  # newest first
    links = {e.link for e in parsed.entries}
    assert "https://entropic-notes.wordpress.example/2025/06/16/teleology-and-information-"\
           "dynamics-in-evolution/" in links
    thanatos = next(e for e in parsed.entries if e.title == "Thanatos")
    assert "☠️" in thanatos.content[0].value


def test_json_feed(app) -> None:
    resp = app[0].test_client().get("/feed.json")
    doc = resp.get_json(force=True)
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert len(doc["items"]) == 9 and all(i["url"] for i in doc["items"])


def test_etag_304_and_render_once(app) -> None:
    _, rt, _ = app
    flask_app = create_app(rt, feed_freshness=0.0)
    client = flask_app.test_client()
    first = client.get("/feed.atom")
    etag, last_mod = first.headers["ETag"], first.headers["Last-Modified"]
    assert client.get("/feed.atom", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/feed.atom", headers={"If-Modified-Since": last_mod}).status_code == 304
    for _ in range(20):
        client.get("/feed.atom")
    assert flask_app.extensions["syndicate.feeds"].renders == 1
    # A change to the store gives a new ETag.
    from syndicate.entry import Entry
    rt.store.upsert(Entry(source="blogger", guid="g-new", link="https://x.example/new",
                          title="New", content_html="<p>new</p>", published=time.time()))
    again = client.get("/feed.atom", headers={"If-None-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] != etag


def test_feed_gzip_head_and_methods(app) -> None:
    client = app[0].test_client()
    plain = client.get("/feed.xml")
    gz = client.get("/feed.xml", headers={"Accept-Encoding": "br, gzip;q=0.8"})
    assert gz.headers["Content-Encoding"] == "gzip" and "Content-Encoding" not in plain.headers
    assert gz.headers["Vary"] == plain.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(gz.data) == plain.data and len(gz.data) < len(plain.data)
    # Each representation has its own strong tag, and either one revalidates the feed.
    assert gz.headers["ETag"] != plain.headers["ETag"]
    for tag in (gz.headers["ETag"], plain.headers["ETag"]):
        for enc in ("gzip", "identity"):
            resp = client.get("/feed.xml", headers={"If-None-Match": tag, "Accept-Encoding": enc})
            assert resp.status_code == 304 and not resp.data
    refused = client.get("/feed.xml", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    head = client.head("/feed.xml")
    assert head.status_code == 200 and not head.data
    assert head.headers["Content-Length"] == str(len(plain.data))
    post = client.post("/feed.xml")
    assert post.status_code == 405 and post.headers["Allow"] == "GET, HEAD"


def test_publish_webhook(app) -> None:
    flask_app, _, q = app
    client = flask_app.test_client()
    body, hdrs = signed({"source": "blogger"}, msg_id="msg_1")
    resp = client.post("/hooks/publish", data=body, headers=hdrs)
    assert resp.status_code == 202 and resp.get_json()["status"] == "accepted"
    assert q.polls == ["blogger"]
    # The same delivery again (the sender retrying): acknowledged, nothing done twice.
    resp = client.post("/hooks/publish", data=body, headers=hdrs)
    assert resp.status_code == 202 and resp.get_json()["status"] == "duplicate"
    assert q.polls == ["blogger"]


def test_publish_webhook_by_url(app) -> None:
    flask_app, _, q = app
    client = flask_app.test_client()
    for url, source in [
        ("https://entropic-notes.wordpress.example/2025/06/16/a-post/", "wordpress"),
        ("https://synthetic-mind.blogspot.example/2025/12/x.html", "blogger"),
    ]:
        body, hdrs = signed({"url": url})
        assert client.post("/hooks/publish", data=body, headers=hdrs).status_code == 202
        assert q.polls[-1] == source


@pytest.mark.parametrize("case", ["forged", "stale", "future", "missing", "tampered"])
def test_publish_webhook_refused(app, case) -> None:
    flask_app, _, q = app
    if case == "forged":
        body, hdrs = signed({"source": "blogger"}, secret=b"not-the-secret")
    elif case == "stale":
        body, hdrs = signed({"source": "blogger"}, ts=int(time.time()) - 301)
    elif case == "future":
        body, hdrs = signed({"source": "blogger"}, ts=int(time.time()) + 400)
    elif case == "missing":
        body, hdrs = json.dumps({"source": "blogger"}).encode(), {}
    else:
        body, hdrs = signed({"source": "blogger"})
        body = json.dumps({"source": "wordpress"}).encode()
    resp = flask_app.test_client().post("/hooks/publish", data=body, headers=hdrs)
    assert resp.status_code == 401
    assert "signature refused" in resp.get_json()["error"]
    assert q.polls == []


def test_publish_webhook_unknown_source(app) -> None:
    flask_app, _, q = app
    body, hdrs = signed({"source": "tumblr"})
    resp = flask_app.test_client().post("/hooks/publish", data=body, headers=hdrs)
    assert resp.status_code == 404 and "tumblr" in resp.get_json()["error"]
    body, hdrs = signed({"url": "https://elsewhere.example/post"})
    assert flask_app.test_client().post("/hooks/publish", data=body,
                                        headers=hdrs).status_code == 404
    assert q.polls == []


def test_websub_verify_and_push(app) -> None:
    flask_app, rt, q = app
    client = flask_app.test_client()
    topic = rt.config.source("blogger").url
    # As subscribe() leaves it: a request of ours, waiting for the hub's check.
    rt.redis.hset(rt.keys.source("blogger"), mapping={
        "websub_secret": "hubsecret", "websub_topic": topic, "websub_pending": "subscribe"})
    resp = client.get("/websub/blogger", query_string={
        "hub.mode": "subscribe", "hub.topic": "https://evil.example/feed", "hub.challenge": "x"})
    assert resp.status_code == 404
    resp = client.get("/websub/blogger", query_string={
        "hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "xyz123",
        "hub.lease_seconds": "86400"})
    assert resp.status_code == 200 and resp.data == b"xyz123"
    body = fixture_bytes("blogger-atom.xml")
    bad = client.post("/websub/blogger", data=body, headers={"X-Hub-Signature": "sha256=00"})
    assert bad.status_code == 403 and q.polls == []  # refused, nothing polled
    good = client.post("/websub/blogger", data=body, headers={
        "X-Hub-Signature": signing.hub_signature(b"hubsecret", body)})
    assert good.status_code == 202 and q.polls == ["blogger"]


def test_deliveries_and_health(app) -> None:
    flask_app, rt, _ = app
    client = flask_app.test_client()
    assert client.get("/api/deliveries").get_json() == []
    rt.ledger.create(rt.store.latest(1)[0].id, "devto")
    (item,) = client.get("/api/deliveries").get_json()
    assert set(item) >= {"entry_id", "title", "link", "target", "state", "remote_id",
                         "remote_url", "attempts", "last_error", "updated_at"}
    assert item["title"] == "The Synthetic Mind" and item["state"] == "pending"
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["redis"] == "ok"
    assert health.get_json()["workers"] == 0
    rt.heartbeat("w1")
    assert client.get("/healthz").get_json()["workers"] == 1


def test_websub_subscribes_to_a_loopback_hub(make_runtime, feed_server) -> None:
    from .fakes.http import FormRecorder

    hub = FormRecorder(202).start()
    try:
        feed = fixture_bytes("blogger-atom.xml").replace(
            b"http://pubsubhubbub.appspot.com/", hub.url.encode() + b"/")
        url = feed_server.put("/feeds/posts/default", feed)
        rt, q = make_runtime(sources=[{"name": "blogger", "url": url}])
        rt.poll("blogger")
        (form,) = hub.forms
        assert form["hub.mode"] == ["subscribe"]
        assert form["hub.callback"] == ["http://127.0.0.1:8080/websub/blogger"]
        topic = form["hub.topic"][0]
        secret = form["hub.secret"][0]
        # The hub verifies the subscription, then pushes a signed update.
        client = create_app(rt).test_client()
        resp = client.get("/websub/blogger", query_string={
            "hub.mode": "subscribe", "hub.topic": topic, "hub.challenge": "c1",
            "hub.lease_seconds": "864000"})
        assert resp.data == b"c1"
        client.post("/websub/blogger", data=feed, headers={
            "X-Hub-Signature": signing.hub_signature(secret.encode(), feed)})
        assert q.polls == ["blogger"]
        rt.poll("blogger")  # subscribed and leased: no second request
        rt.tick()
        assert len(hub.forms) == 1
    finally:
        hub.stop()


def test_websub_never_asks_a_remote_hub_to_call_loopback(make_runtime, feed_server) -> None:
    # The fixture names a public hub; with a loopback site URL nothing may be sent to it.
    rt, _ = make_runtime(sources=sources(feed_server))
    rt.poll("blogger")
    assert rt.check_websub("blogger") is False
    assert not rt.poller.state("blogger").get("websub_hub")


def test_readers_hub_is_named_and_pinged(make_runtime, feed_server) -> None:
    from .fakes.http import FormRecorder
    from .test_poller import with_new_post

    hub = FormRecorder(204).start()
    try:
        rt, _ = make_runtime(sources=sources(feed_server),
                             site={"title": "S", "url": "http://127.0.0.1:8080/", "hub": hub.url})
        client = create_app(rt).test_client()
        atom = feedparser.parse(client.get("/feed.atom").data)
        assert {"rel": "hub", "href": hub.url} in [
            {"rel": link.get("rel"), "href": link.get("href")} for link in atom.feed.links]
        assert client.get("/feed.json").get_json()["hubs"] == [{"type": "WebSub", "url": hub.url}]
        rt.poll("blogger")  # the baseline changes the merged feed too
        feed_server.put("/feeds/posts/default", with_new_post(fixture_bytes("blogger-atom.xml")))
        rt.poll("blogger")
        rt.poll("blogger")  # nothing changed: no ping
        assert len(hub.forms) == 2
        assert hub.forms[-1]["hub.mode"] == ["publish"]
        assert hub.forms[-1]["hub.url"] == ["http://127.0.0.1:8080/feed.xml",
                                            "http://127.0.0.1:8080/feed.atom",
                                            "http://127.0.0.1:8080/feed.json"]
    finally:
        hub.stop()
