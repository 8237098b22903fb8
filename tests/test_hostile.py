"""Hostile input: entity bombs, XXE, broken encodings, control characters, oversized and forged
webhooks. Each is refused with a clear error or cleaned, and the reader feeds stay valid XML."""

from __future__ import annotations

import feedparser
import pytest

from syndicate.errors import FeedError
from syndicate.parse import parse_feed
from syndicate.web import create_app

from .helpers import dripping
from .test_web import signed

LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<rss version="2.0"><channel><title>t</title><item><title>&d;</title>
<link>https://x.example/1</link></item></channel></rss>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>&x;</title>
<link>https://x.example/1</link></item></channel></rss>"""


@pytest.mark.parametrize("body", [LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_declarations_are_refused(body: bytes) -> None:
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(body, "http://127.0.0.1/feed", "x")


def test_broken_encoding_and_control_characters_are_cleaned(make_runtime, feed_server) -> None:
    body = (b"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>t</title>"
            b"<link>https://bad.example</link><item><title>Bell \x07 and \x1b escape \x00</title>"
            b"<link>https://bad.example/1</link><guid>https://bad.example/1</guid>"
            b"<description>Body with \x0b vertical tab</description></item></channel></rss>"
            ) .replace(b"Body", b"Bo\xff\xfedy")
    url = feed_server.put("/bad", body)
    rt, _ = make_runtime(sources=[{"name": "bad", "url": url}])
    result = rt.poll("bad")
    assert result.status == "baseline" and rt.store.count() == 1
    (entry,) = rt.store.latest(1)
    assert entry.title == "Bell and escape"
    client = create_app(rt).test_client()
    for path in ("/feed.xml", "/feed.atom"):
        parsed = feedparser.parse(client.get(path).data)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert parsed.entries[0].title == "Bell and escape"


def test_oversized_webhook_is_refused(make_runtime) -> None:
    rt, q = make_runtime(sources=[{"name": "s", "url": "http://127.0.0.1:9/feed"}])
    body, hdrs = signed({"source": "s", "padding": "x" * 70_000})
    resp = create_app(rt).test_client().post("/hooks/publish", data=body, headers=hdrs)
    assert resp.status_code == 413 and q.polls == []


def test_slow_drip_server_is_cut_off() -> None:
    from syndicate.errors import FetchError
    from syndicate.fetch import fetch

    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
            b"Content-Length: 100000\r\n\r\n")
    with dripping(head, b"<", 0.1) as url, pytest.raises(FetchError, match="longer than"):
        fetch(url, timeout=1.0, allow_private=True)
