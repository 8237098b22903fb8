"""Mastodon adapter against a loopback instance checked against Mastodon's OpenAPI description."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from syndicate.config import SiteConfig, TargetConfig
from syndicate.entry import Entry
from syndicate.targets import build

from .adapter_contract import AdapterContract, Case
from .fakes.http import Reply
from .fakes.mastodon import MAX, TOKEN, MastodonServer, counted
from .helpers import drive, new_entry


def target(server: MastodonServer, **kw: object) -> dict[str, object]:
    return {"kind": "mastodon", "base_url": server.url, "token": TOKEN, **kw}


@pytest.fixture
def case(mastodon: MastodonServer) -> Case:
    return Case(
        server=mastodon, target=target(mastodon), wrong_credentials={"token": "revoked-token"},
        invalid=Reply(422, {"error": "Validation failed: Text can't be blank"}),
        invalid_words="Text can't be blank",
        canonical=lambda p: p["text"].rsplit("\n", 1)[-1], body=lambda p: p["text"],
        replays=True,
    )


class TestMastodonContract(AdapterContract):
    """Every blog target's contract, against the loopback instance."""


def adapter(**opts: object):  # type: ignore[no-untyped-def]
    return build(TargetConfig(name="m", kind="mastodon", options={
        "base_url": "https://mastodon.example", "token": "t", **opts}), SiteConfig())


@pytest.mark.parametrize("title", [
    "Entropy, minds and machines 🧠⚙️", "熵与心智：机器如何思考", "الإنتروبيا والعقل والآلة",
    "A " + "very " * 200 + "long title"])
def test_fits_the_instance_limit_counting_urls_as_23(title: str) -> None:
    link = "https://mind.blogspot.example/2025/12/" + "a-long-slug-" * 20 + ".html"
    entry = Entry(source="s", guid="g", link=link, title=title,
                  content_html="<p>" + "Order is kept only while energy flows in. " * 40 + "</p>")
    text = adapter().text(entry, limit=MAX, url_length=23)
    assert counted(text) <= MAX
    assert text.endswith(link)  # the link home is always whole
    assert text.startswith(title[:10])


def test_a_retry_after_a_timeout_never_posts_twice(make_runtime, mastodon) -> None:
    rt, _ = make_runtime(targets=[{"name": "m", **target(mastodon)}])
    eid = new_entry(rt)
    mastodon.faults.append("commit-then-drop")  # posted, then the answer was lost
    assert drive(rt, eid, "m").state == "delivered"
    assert len(mastodon.posts) == 1  # the Idempotency-Key replay gave the first status back
    assert rt.ledger.get(eid, "m").remote_id == mastodon.posts[0]["id"]


def test_edits_in_place_and_reads_back(make_runtime, mastodon) -> None:
    rt, _ = make_runtime(targets=[{"name": "m", **target(mastodon), "on_edit": "update",
                                   "visibility": "unlisted", "language": "en"}])
    eid = new_entry(rt)
    assert drive(rt, eid, "m").state == "delivered"
    (item,) = rt.deliveries()
    assert item["verified"] is True
    e = rt.store.get(eid)
    e.title = "Post 1, corrected"
    rt.store.upsert(e)
    rt.dispatcher.edited(eid)
    assert drive(rt, eid, "m").state == "delivered"
    (post,) = mastodon.posts
    assert post["text"].startswith("Post 1, corrected") and post["visibility"] == "unlisted"


def test_429_waits_until_the_reset(make_runtime, mastodon) -> None:
    rt, _ = make_runtime(targets=[{"name": "m", **target(mastodon)}])
    eid = new_entry(rt)
    reset = datetime.fromtimestamp(time.time() + 40, UTC).isoformat()
    mastodon.faults.append(Reply(429, {"error": "Too many requests"},
                                 {"X-RateLimit-Reset": reset}))
    out = rt.dispatcher.deliver(eid, "m")
    assert out.state == "failed" and out.retry_in is not None and out.retry_in >= 30
