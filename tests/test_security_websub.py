"""WebSub: only syndicate's own requests are confirmed, and only signed pushes for an active
subscription make it poll. Plus a property-based fuzz of the publish webhook and both WebSub
handlers: whatever arrives, no 500 and no poll without a valid signature."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicate import signing, websub
from syndicate.web import create_app

from .test_poller import sources
from .test_web import signed

HUB_SECRET = "hub-secret-of-the-subscription"


@pytest.fixture
def site(make_runtime, feed_server):
    rt, q = make_runtime(sources=sources(feed_server))
    return rt, q, create_app(rt).test_client()


def pending(rt, topic: str) -> None:
    """As `websub.subscribe` leaves a source: asked, not yet verified."""
    rt.redis.hset(rt.keys.source("blogger"), mapping={
        "websub_secret": HUB_SECRET, "websub_topic": topic, "websub_hub": "https://hub.example/",
        "websub_pending": "subscribe", "websub_lease_until": 0})


def verify(client, topic: str, mode: str = "subscribe", lease: str = "86400"):
    return client.get("/websub/blogger", query_string={
        "hub.mode": mode, "hub.topic": topic, "hub.challenge": "chal", "hub.lease_seconds": lease})


def test_verification_needs_a_request_of_ours(site) -> None:
    rt, _, client = site
    topic = rt.config.source("blogger").url
    assert verify(client, topic).status_code == 404  # never asked: nothing to confirm
    assert verify(client, topic, "unsubscribe").status_code == 404
    pending(rt, topic)
    assert verify(client, topic, "unsubscribe").status_code == 404  # we asked to subscribe
    assert verify(client, "https://evil.example/feed").status_code == 404
    resp = verify(client, topic)
    assert resp.status_code == 200 and resp.data == b"chal"
    # Confirmed once; a second confirmation of the same request is not ours to give.
    assert verify(client, topic).status_code == 404


@pytest.mark.parametrize("lease", ["94608000000", "9" * 400, "-5", "1e9", "", "abc"])
def test_leases_are_capped(site, lease) -> None:
    rt, _, client = site
    topic = rt.config.source("blogger").url
    pending(rt, topic)
    resp = verify(client, topic, lease=lease)
    assert resp.status_code == 200
    until = float(rt.redis.hget(rt.keys.source("blogger"), "websub_lease_until"))
    assert time.time() < until <= time.time() + websub.MAX_LEASE + 1


def test_pushes_poll_only_when_signed_for_an_active_subscription(site) -> None:
    rt, q, client = site
    body = b"<feed/>"
    good = {"X-Hub-Signature": signing.hub_signature(HUB_SECRET.encode(), body)}
    # No subscription at all: anonymous POSTs poll nothing.
    for _ in range(300):
        assert client.post("/websub/blogger", data=body).status_code == 404
    assert client.post("/websub/blogger", data=body, headers=good).status_code == 404
    assert client.post("/websub/nosuch", data=body, headers=good).status_code == 404
    topic = rt.config.source("blogger").url
    pending(rt, topic)
    # Asked but not yet verified: not active.
    assert client.post("/websub/blogger", data=body, headers=good).status_code == 404
    verify(client, topic)
    assert client.post("/websub/blogger", data=body).status_code == 403
    assert client.post("/websub/blogger", data=body,
                       headers={"X-Hub-Signature": "sha256=" + "0" * 64}).status_code == 403
    assert q.polls == []
    assert client.post("/websub/blogger", data=body, headers=good).status_code == 202
    assert q.polls == ["blogger"]
    # The lease ran out: pushes stop counting.
    rt.redis.hset(rt.keys.source("blogger"), "websub_lease_until", time.time() - 1)
    assert client.post("/websub/blogger", data=body, headers=good).status_code == 404
    assert q.polls == ["blogger"]


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=80)
_headers = st.dictionaries(
    st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature", "X-Hub-Signature",
                     "Content-Type"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=120), max_size=5)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.binary(max_size=400), headers=_headers,
       query=st.dictionaries(st.sampled_from(["hub.mode", "hub.topic", "hub.challenge",
                                              "hub.lease_seconds"]), _text, max_size=4),
       name=st.sampled_from(["blogger", "wordpress", "nosuch", "..", "%00"]))
def test_fuzz_webhook_and_websub(site, body, headers, query, name) -> None:
    rt, q, client = site
    q.polls.clear()
    rt.redis.hset(rt.keys.source("blogger"), mapping={
        "websub_secret": HUB_SECRET, "websub_topic": "t", "websub_pending": "subscribe",
        "websub_lease_until": time.time() + 3600})
    for resp in (client.post("/hooks/publish", data=body, headers=headers),
                 client.post(f"/websub/{name}", data=body, headers=headers),
                 client.get(f"/websub/{name}", query_string=query, headers=headers)):
        assert resp.status_code < 500, resp.get_data(as_text=True)
    assert q.polls == []  # nothing forged, nothing polled
    # And one well-formed request of each kind still works.
    raw, hdrs = signed({"source": "blogger"})
    assert client.post("/hooks/publish", data=raw, headers=hdrs).status_code == 202
    sig = {"X-Hub-Signature": signing.hub_signature(HUB_SECRET.encode(), body)}
    assert client.post("/websub/blogger", data=body, headers=sig).status_code == 202
    assert q.polls == ["blogger", "blogger"]
