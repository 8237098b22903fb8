"""The wordpress adapter against a real WordPress (Debian's package, MariaDB, PHP's server).

The shared adapter contract runs through a pass-through proxy that can script faults; then what
only the real server showed: every fixture post once, a slug collision with someone else's post,
an edit in place, lost state re-adopted, wrong and stripped credentials, an Author-role account
losing iframes (drift), the original's date, and one tag from two workers at once.

Skipped with the reason where WordPress cannot run; `.ci/run` installs it and sets
SYNDICATE_REQUIRE_REAL_PLATFORMS=1, which turns a skip into a failure.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from .adapter_contract import AdapterContract, Case
from .fakes.http import Reply
from .fidelity import kept
from .helpers import deliver_fixture_posts, drive, edit_entry, new_entry, sent_body
from .realproxy import FaultProxy, started
from .realwp import RealWordPress


@pytest.fixture(scope="session")
def real_wp() -> Iterator[RealWordPress]:
    wp = started("WordPress", RealWordPress().start)
    yield wp
    wp.stop()


@pytest.fixture
def wp(real_wp: RealWordPress) -> Iterator[RealWordPress]:
    real_wp.reset()
    yield real_wp


@pytest.fixture
def proxy(wp: RealWordPress) -> Iterator[FaultProxy]:
    p = FaultProxy(wp.url, wp.posts).start()
    yield p
    p.stop()


def target(base_url: str, wp: RealWordPress, user: str = "admin", **kw: Any) -> dict[str, Any]:
    return {"kind": "wordpress", "base_url": base_url, "username": user,
            "app_password": wp.app_passwords[user], "timeout": "20s", **kw}


def footer_link(post: dict[str, Any]) -> str:
    return html.unescape(post["content"]["raw"].rsplit('href="', 1)[1].split('"', 1)[0])


def seed(wp: RealWordPress, link: str, title: str = "Post 1") -> dict[str, Any]:
    """A post already on the site, made by hand or by an earlier run, linking `link` home."""
    slug = link.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
    resp = wp.api("POST", "/posts", json={
        "title": title, "slug": slug, "status": "publish",
        "content": f'<p>An earlier copy.</p>\n<p><em>Originally published at <a href="{link}">'
                   f"Sanjay Basu</a>.</em></p>"})
    resp.raise_for_status()
    return dict(resp.json())


@pytest.fixture
def case(proxy: FaultProxy, wp: RealWordPress) -> Case:
    return Case(
        server=proxy, target=target(proxy.proxy_url, wp),
        wrong_credentials={"app_password": "wrong pass word xxxx"},
        invalid=Reply(400, {"code": "rest_invalid_param", "message": "Invalid parameter(s): "
                            "status", "data": {"status": 400}}),
        invalid_words="Invalid parameter(s): status",
        canonical=footer_link, body=lambda p: html.unescape(p["content"]["raw"]),
        seed=lambda link: None if seed(wp, link) else None,
        server_error=Reply(500, {"code": "internal_server_error", "message": "There has been a "
                                 "critical error on this website.", "data": {"status": 500}}),
    )


class TestRealWordpressContract(AdapterContract):
    """Every blog target's contract, against the real WordPress."""


def test_every_fixture_post_once(make_runtime, wp: RealWordPress) -> None:
    rt, _ = make_runtime(targets=[{"name": "wp", **target(wp.url, wp)}])
    ids = deliver_fixture_posts(rt, "wp")
    copies = {footer_link(p): p for p in wp.posts()}
    assert len(copies) == len(ids) == len(wp.posts())  # each post once
    for eid in ids:
        entry = rt.store.get(eid)
        post = copies[entry.link]
        assert html.unescape(post["title"]["raw"]) == entry.title
        sent = sent_body(rt, eid)
        if sent:
            score = kept(sent, post["content"]["raw"])
            assert all(v == 1.0 for v in score.values()), (entry.title, score)
        d = rt.ledger.get(eid, "wp")
        assert d.extra.get("verified") == "1", d.extra.get("drift")
        if entry.published:
            assert post["date_gmt"] == time.strftime("%Y-%m-%dT%H:%M:%S",
                                                     time.gmtime(entry.published))


def test_slug_collision_never_touches_the_other_post(make_runtime, wp: RealWordPress) -> None:
    theirs = seed(wp, "https://mind.blogspot.example/2019/03/thanatos.html", title="Thanatos")
    rt, _ = make_runtime(targets=[{"name": "wp", **target(wp.url, wp), "on_edit": "update"}])
    eid = new_entry(rt, link="https://mind.blogspot.example/2025/11/thanatos.html",
                    title="Thanatos")
    assert drive(rt, eid, "wp").state == "delivered"
    d = rt.ledger.get(eid, "wp")
    assert d.extra.get("adopted") != "1" and d.remote_id != str(theirs["id"])
    assert {p["slug"] for p in wp.posts()} == {"thanatos", "thanatos-2"}
    edit_entry(rt, eid, "<p>A correction, added later.</p>")
    assert drive(rt, eid, "wp").state == "delivered"
    (other,) = [p for p in wp.posts() if p["id"] == theirs["id"]]
    assert other["content"]["raw"] == theirs["content"]["raw"]  # untouched
    (ours,) = [p for p in wp.posts() if str(p["id"]) == d.remote_id]
    assert "A correction, added later." in ours["content"]["raw"]


def test_lost_state_is_readopted_by_the_link_home(make_runtime, wp: RealWordPress) -> None:
    rt, _ = make_runtime(targets=[{"name": "wp", **target(wp.url, wp)}])
    # Someone else's post has our slug, so ours is `post-1-2`: found by searching for the link.
    seed(wp, "https://mind.blogspot.example/2019/03/post-1.html")
    eid = new_entry(rt)
    assert drive(rt, eid, "wp").state == "delivered"
    first = rt.ledger.get(eid, "wp").remote_id
    for key in rt.redis.scan_iter(f"{rt.keys.prefix}:*"):  # Redis lost everything
        rt.redis.delete(key)
    eid = new_entry(rt)
    assert drive(rt, eid, "wp").state == "delivered"
    d = rt.ledger.get(eid, "wp")
    assert d.extra.get("adopted") == "1" and d.remote_id == first
    assert len(wp.posts()) == 2


@pytest.mark.parametrize("how", ["wrong", "stripped"])
def test_rejected_credentials_mark_the_target_broken(make_runtime, wp: RealWordPress,
                                                     proxy: FaultProxy, redis_url: str,
                                                     prefix: str, how: str) -> None:
    from syndicate.runtime import Runtime

    from .conftest import ListQueue, make_config

    if how == "wrong":
        tgt = target(proxy.proxy_url, wp, app_password="abcd abcd abcd abcd abcd abcd")
    else:  # a web server in front of WordPress that drops `Authorization` (CGI/FPM Apache)
        proxy.strip_authorization = True
        tgt = target(proxy.proxy_url, wp)
    rt, _ = make_runtime(targets=[{"name": "wp", **tgt}])
    ids = [new_entry(rt, n) for n in (1, 2)]
    for eid in ids:
        out = rt.dispatcher.deliver(eid, "wp")
        assert out.state in ("failed", "waiting")
    for eid in ids:
        d = rt.ledger.get(eid, "wp")
        assert d.state == "failed" and d.attempts == 0, d
        assert "credentials rejected by WordPress" in d.last_error
        assert d.next_at > time.time() + 60  # waiting for a fix, not dead
    assert "credentials rejected by WordPress" in rt.redis.hget(
        rt.keys.target("wp"), "broken").decode()
    if how == "wrong":  # fixed in the config: the restart revives the target at once
        fixed = Runtime.open(make_config(redis_url, prefix, targets=[
            {"name": "wp", **target(proxy.proxy_url, wp)}]), queue=ListQueue(), r=rt.redis)
        assert fixed.tick()["deliveries"] >= 2  # due at once, not at their backoff
    else:  # fixed in the web server: the next recheck works, and revives the target
        proxy.strip_authorization = False
        fixed = rt
        # Time passes: the recheck is due, and so is the first delivery (it is the recheck).
        rt.redis.hset(rt.keys.target("wp"), "recheck_at", 0)
        rt.redis.hset(rt.keys.delivery(ids[0], "wp"), "next_at", 0)
        assert fixed.dispatcher.deliver(ids[0], "wp").state == "delivered"
        assert rt.ledger.get(ids[1], "wp").next_at <= time.time()  # due now, not later
    for eid in ids:
        assert fixed.dispatcher.deliver(eid, "wp").state == "delivered"
    assert len(wp.posts()) == 2


def test_an_author_account_losing_iframes_shows_as_drift(make_runtime, wp: RealWordPress) -> None:
    rt, _ = make_runtime(targets=[{"name": "wp", **target(wp.url, wp, user="author")}])
    body = ('<p>Watch this:</p><iframe src="https://www.youtube.com/embed/abc123" '
            'title="A talk" width="560" height="315"></iframe><p>Then read on.</p>')
    eid = new_entry(rt, content_html=body)
    assert drive(rt, eid, "wp").state == "delivered"  # sent, and WordPress said 201 ...
    d = rt.ledger.get(eid, "wp")
    assert d.extra.get("verified") == "0"  # ... but kept less than it was sent
    assert "the platform removed 1 embed (iframe)" in d.extra.get("drift", "")
    (item,) = [x for x in rt.deliveries() if x["target"] == "wp"]
    assert item["verified"] is False and "iframe" in item["drift"]
    assert rt.dispatcher.deliver(eid, "wp").state == "delivered"  # never a resend
    assert len(wp.posts()) == 1


def test_one_tag_from_two_workers_at_once(make_runtime, wp: RealWordPress) -> None:
    rt, _ = make_runtime(targets=[{"name": "wp", **target(wp.url, wp)}])
    ids = [new_entry(rt, n, categories=["Thermodynamics", "Entropy"]) for n in (1, 2, 3, 4)]
    threads = [threading.Thread(target=rt.dispatcher.deliver, args=(eid, "wp")) for eid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for eid in ids:
        assert drive(rt, eid, "wp").state == "delivered"
    tags = requests.get(wp.url + "/wp-json/wp/v2/tags", params={"per_page": 100},
                        timeout=30).json()
    names = [t["name"] for t in tags]
    assert names.count("Entropy") == 1 and names.count("Thermodynamics") == 1, names
    assert not [t["slug"] for t in tags if t["slug"].endswith("-2")]
