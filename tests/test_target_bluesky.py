"""Bluesky adapter against a loopback PDS checked against the AT Protocol lexicons."""

from __future__ import annotations

import pytest

from syndicate.config import SiteConfig, TargetConfig
from syndicate.entry import Entry
from syndicate.targets import build
from syndicate.targets.bluesky import graphemes, tid

from .adapter_contract import AdapterContract, Case
from .fakes.bluesky import APP_PASSWORD, HANDLE, BlueskyServer
from .fakes.http import Reply
from .helpers import drive, new_entry


def target(server: BlueskyServer, **kw: object) -> dict[str, object]:
    return {"kind": "bluesky", "service": server.url, "handle": HANDLE,
            "app_password": APP_PASSWORD, **kw}


@pytest.fixture
def case(bluesky: BlueskyServer) -> Case:
    return Case(
        server=bluesky, target=target(bluesky), wrong_credentials={"app_password": "nope-nope"},
        invalid=Reply(400, {"error": "InvalidRequest", "message": "Invalid app.bsky.feed.post"}),
        invalid_words="Invalid app.bsky.feed.post",
        canonical=lambda p: p["value"]["embed"]["external"]["uri"],
        body=lambda p: p["value"]["text"], can_update=False, replays=True,
        web="https://bsky.app/profile/",
    )


class TestBlueskyContract(AdapterContract):
    """Every blog target's contract, against the loopback PDS."""


def adapter():  # type: ignore[no-untyped-def]
    return build(TargetConfig(name="b", kind="bluesky", options={
        "handle": HANDLE, "app_password": APP_PASSWORD}), SiteConfig())


@pytest.mark.parametrize("title", [
    "Entropy, minds and machines 🧠⚙️ 👩‍👩‍👧‍👦", "熵与心智：机器如何思考" * 30,
    "الإنتروبيا والعقل والآلة", "A " + "very " * 100 + "long title"])
def test_text_fits_300_graphemes_and_the_facet_covers_the_link_bytes(title: str) -> None:
    link = "https://mind.blogspot.example/2025/12/entropy-ü.html"
    entry = Entry(source="s", guid="g", link=link, title=title, content_html="<p>Body.</p>")
    text, facet = adapter().text(entry)
    assert graphemes(text) <= 300
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert text.encode()[start:end].decode() == link  # UTF-8 byte offsets, not characters
    assert facet["features"][0]["uri"] == link


def test_record_keys_are_tids_fixed_per_entry_and_target() -> None:
    a = adapter()
    e = Entry(source="s", guid="g", link="https://x.example/p", title="T", first_seen=1.7e9,
              id="abc")
    assert a.rkey(e, "b") == a.rkey(e, "b") != a.rkey(e, "other")
    assert len(tid(1_700_000_000_000_000, 5)) == 13
    assert tid(1, 0) < tid(2, 0)  # sortable by time


def test_a_repeat_create_is_refused_and_adopted(make_runtime, bluesky) -> None:
    rt, _ = make_runtime(targets=[{"name": "b", **target(bluesky)}])
    eid = new_entry(rt)
    bluesky.faults.append("commit-then-drop")  # created, answer lost
    assert drive(rt, eid, "b").state == "delivered"
    assert len(bluesky.records) == 1
    d = rt.ledger.get(eid, "b")
    assert d.extra.get("adopted") == "1" and d.remote_url.startswith("https://bsky.app/")


def test_an_expired_session_is_refreshed_not_logged_in_again(make_runtime, bluesky) -> None:
    rt, _ = make_runtime(targets=[{"name": "b", **target(bluesky)}])
    first, second = new_entry(rt, 1), new_entry(rt, 2)
    assert drive(rt, first, "b").state == "delivered"
    bluesky.expire_tokens()
    assert drive(rt, second, "b").state == "delivered"
    assert bluesky.logins == 1 and len(bluesky.records) == 2
    (item, _) = [d for d in rt.deliveries() if d["target"] == "b"]
    assert item["verified"] is True


def test_the_posts_image_goes_on_the_card(make_runtime, bluesky, feed_server) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000
    image = feed_server.put("/img/diagram.png", png)
    rt, _ = make_runtime(targets=[{"name": "b", **target(bluesky, allow_private=True)}])
    eid = new_entry(rt, image=image)
    assert drive(rt, eid, "b").state == "delivered"
    (rec,) = bluesky.records.values()
    thumb = rec["value"]["embed"]["external"].get("thumb")
    assert bluesky.blobs == [png] and thumb and thumb["$type"] == "blob"
