"""Polling: first poll as baseline, conditional GET, no parse of unchanged bytes, faults."""

from __future__ import annotations

from syndicate.fetch import fetch
from syndicate.metrics import Metrics

from .conftest import OUTBOUND_SECRET, fixture_bytes
from .fakes.http import Reply

NEW_POST = (
    "<entry><id>tag:blogger.com,1999:blog-7301422960115572211.post-1111111111111111111</id>"
    "<published>2025-12-10T09:00:00.000-08:00</published>"
    "<updated>2025-12-10T09:00:00.000-08:00</updated>"
    "<title type='text'>A New Post</title>"
    "<content type='html'>&lt;p&gt;Freshly written.&lt;/p&gt;</content>"
    "<link rel='alternate' type='text/html' "
    "href='https://synthetic-mind.blogspot.example/2025/12/a-new-post.html' title='A New Post'/>"
    "<author><name>Sanjay Basu</name></author></entry>"
)


def with_new_post(feed: bytes, entry: str = NEW_POST) -> bytes:
    # Blogger lists newest first: the new entry goes before the first one.
    return feed.replace(b"<entry>", entry.encode() + b"<entry>", 1)


def sources(server):
    return [
        {"name": "blogger", "url": server.put("/feeds/posts/default",
                                              fixture_bytes("blogger-atom.xml"))},
        {"name": "wordpress", "url": server.put("/category/uncategorized/feed/",
                                                fixture_bytes("wordpress-rss.xml"))},
    ]


def test_first_poll_is_a_baseline(make_runtime, feed_server) -> None:
    rt, q = make_runtime(sources=sources(feed_server),
                         targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/x", "secret": OUTBOUND_SECRET}])
    assert rt.poll("blogger").status == "baseline"
    assert rt.poll("wordpress").status == "baseline"
    assert rt.store.count() == 9 and q.deliveries == [] and rt.ledger.all() == []
    feed_server.put("/feeds/posts/default", with_new_post(fixture_bytes("blogger-atom.xml")))
    result = rt.poll("blogger")
    assert result.status == "new" and len(result.new) == 1
    assert q.deliveries == [(result.new[0], "hook")]
    assert rt.store.get(result.new[0]).title == "A New Post"
    # Polling again finds nothing new: nothing is delivered twice.
    assert rt.poll("blogger").status == "not-modified"
    assert len(q.deliveries) == 1


def test_backfill_delivers_what_is_there(make_runtime, feed_server) -> None:
    src = sources(feed_server)[1] | {"backfill": True}
    rt, q = make_runtime(sources=[src], targets=[{"name": "hook", "kind": "webhook",
                                                  "url": "http://127.0.0.1:9/x",
                                                  "secret": OUTBOUND_SECRET}])
    result = rt.poll("wordpress")
    assert len(result.new) == 6 and len(q.deliveries) == 6


def test_conditional_get_and_no_parse_of_same_bytes(make_runtime, feed_server) -> None:
    rt, _ = make_runtime(sources=sources(feed_server))
    rt.poll("blogger")
    assert Metrics(rt.redis, rt.keys).total("parses") == 1
    assert rt.poll("blogger").status == "not-modified"
    assert feed_server.conditional_hits == 1
    feed_server.honour_etag = False  # a server that ignores validators
    assert rt.poll("blogger").status == "unchanged"
    assert Metrics(rt.redis, rt.keys).total("parses") == 1  # same bytes: feedparser was not called


def test_500_then_garbage_then_feed(make_runtime, feed_server) -> None:
    rt, q = make_runtime(sources=sources(feed_server),
                         targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/x", "secret": OUTBOUND_SECRET}])
    rt.poll("blogger")
    feed_server.put("/feeds/posts/default", with_new_post(fixture_bytes("blogger-atom.xml")))
    feed_server.faults.append(Reply(500, b"oops", content_type="text/plain"))
    r1 = rt.poll("blogger")
    assert r1.status == "error" and "HTTP 500" in r1.error
    assert rt.poller.state("blogger")["last_error"].endswith("HTTP 500 Internal Server Error")
    feed_server.faults.append(Reply(200, b"<html>maintenance</html>", content_type="text/html"))
    r2 = rt.poll("blogger")
    assert r2.status == "error" and "not an RSS or Atom feed" in r2.error
    assert q.deliveries == []
    r3 = rt.poll("blogger")
    assert r3.status == "new" and len(r3.new) == 1 and len(q.deliveries) == 1
    state = rt.poller.state("blogger")
    assert state["last_error"] == "" and state["failures"] == "0"


def test_size_cap(feed_server) -> None:
    import pytest

    from syndicate.errors import FetchError

    url = feed_server.put("/big", b"<rss>" + b"x" * 5000 + b"</rss>")
    with pytest.raises(FetchError, match="cap"):
        fetch(url, max_bytes=1024, allow_private=True)


def test_poll_lock_allows_one_at_a_time(make_runtime, feed_server) -> None:
    rt, _ = make_runtime(sources=sources(feed_server))
    rt.redis.set(rt.keys.poll_lock("blogger"), "someone-else", px=5000)
    assert rt.poll("blogger").status == "busy"


def test_scheduler_claims_each_interval_once(make_runtime, feed_server) -> None:
    rt, q = make_runtime(sources=sources(feed_server))
    rt.tick()
    rt.tick()  # a second scheduler, or a second tick within the interval
    assert sorted(q.polls) == ["blogger", "wordpress"]


def test_private_addresses_are_refused_unless_allowed(feed_server) -> None:
    import pytest

    from syndicate.errors import FetchError
    from syndicate.fetch import UnsafeURL, check_url

    url = feed_server.put("/feed", fixture_bytes("blogger-atom.xml"))
    for bad in (url, "http://localhost/x", "http://0x7f000001/x", "http://2130706433/x",
                "http://127.1/x", "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/",
                "http://[::1]/x", "http://[::ffff:127.0.0.1]/x", "http://192.168.1.10/feed"):
        with pytest.raises(UnsafeURL, match="allow_private"):
            check_url(bad)
    for scheme in ("file:///etc/passwd", "gopher://x/", "ftp://example.org/"):
        with pytest.raises(UnsafeURL, match="scheme"):
            check_url(scheme, allow_private=True)
    with pytest.raises(FetchError, match="not a public address"):
        fetch(url)
    assert fetch(url, allow_private=True).status == 200


def test_redirect_to_a_private_address_is_refused(feed_server, monkeypatch) -> None:
    import pytest

    from syndicate import fetch as fetch_mod
    from syndicate import guard
    from syndicate.fetch import UnsafeURL

    checked: list[str] = []
    real_check, real_private = fetch_mod.check_url, guard.private

    def check(url: str, *, allow_private: bool = False) -> None:
        checked.append(url)
        real_check(url, allow_private=allow_private)

    # The loopback origin stands in for a public blog; every other address is judged as ever.
    monkeypatch.setattr(guard, "private", lambda ip: str(ip) != "127.0.0.1" and real_private(ip))
    monkeypatch.setattr(fetch_mod, "check_url", check)
    feed_server.faults.append(Reply(302, b"", {"Location": "http://169.254.169.254/latest/"}))
    with pytest.raises(UnsafeURL, match="169.254.169.254"):
        fetch(feed_server.url + "/feed")
    assert checked == [feed_server.url + "/feed", "http://169.254.169.254/latest/"]
