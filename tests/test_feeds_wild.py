"""Feeds from the wild: one bad entry never stops a poll or breaks a reader feed, and distinct
posts stay distinct. One test per finding, then a property test over random odd feeds."""

from __future__ import annotations

import email.utils
import json
import time
from datetime import UTC, datetime

import feedparser
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from syndicate import parse as parse_mod
from syndicate.content import MAX_DEPTH
from syndicate.errors import FeedError, FetchError
from syndicate.fetch import fetch
from syndicate.parse import parse_feed
from syndicate.web import create_app

from .helpers import dripping

DESC = ("In this episode we talk about entropy, minds and machines, and why order is only ever "
        "kept while energy flows in. A long shared description, the same for every episode of "
        "the show, which is what podcast feeds really do.")


def rss(items: str, *, channel: str = "", decl: str = '<?xml version="1.0" encoding="utf-8"?>'
        ) -> bytes:
    return (f'{decl}<rss version="2.0"><channel><title>Wild</title>'
            f"<link>https://wild.example/</link>{channel}{items}</channel></rss>").encode()


def item(n: int, *, title: str | None = None, guid: str | None = None, link: str | None = None,
         desc: str | None = None, date: str = "Mon, 01 Dec 2025 10:00:00 +0000") -> str:
    return (f"<item><title>{title if title is not None else f'Post {n}'}</title>"
            f"<link>{link or f'https://wild.example/{n}'}</link>"
            f"<guid isPermaLink=\"false\">{guid or f'wild-{n}'}</guid>"
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + f"<description>{desc if desc is not None else f'Body of post {n}.'}</description>"
            "</item>")


def served(make_runtime, feed_server, body: bytes, **src):
    url = feed_server.put("/wild", body)
    rt, q = make_runtime(sources=[{"name": "wild", "url": url, "backfill": True, **src}])
    return rt, q, url


def reader_feeds_are_valid(rt) -> None:
    client = create_app(rt).test_client()
    for path in ("/feed.xml", "/feed.atom"):
        resp = client.get(path)
        assert resp.status_code == 200, path
        etree.fromstring(resp.data)  # well-formed XML
        assert not feedparser.parse(resp.data).bozo
    resp = client.get("/feed.json")
    assert resp.status_code == 200
    json.loads(resp.data)


# 1 -------------------------------------------------------------------------------------------
def test_surrogate_character_references_do_not_crash_the_poll(make_runtime, feed_server) -> None:
    body = rss(item(1, title="Smile &#55357;&#56832;") + item(2, title="Lone &#xD800; one")
               + item(3, title="Past &#x110000; the end") + item(4))
    rt, _, _ = served(make_runtime, feed_server, body)
    result = rt.poll("wild")
    assert result.status == "new" and len(result.new) == 4
    titles = {e.title for e in rt.store.latest(10)}
    assert "Smile 😀" in titles and "Lone \ufffd one" in titles
    reader_feeds_are_valid(rt)


def test_one_source_failing_never_stops_the_others(make_runtime, feed_server, monkeypatch) -> None:
    from syndicate import cli

    good = feed_server.put("/good", rss(item(1)))
    bad = feed_server.put("/bad", rss(item(2)))
    rt, _ = make_runtime(sources=[{"name": "bad", "url": bad}, {"name": "good", "url": good}])
    real = parse_mod.parse_feed

    def explode(body, url, source, content_type=None):  # type: ignore[no-untyped-def]
        if source == "bad":
            raise UnicodeEncodeError("utf-8", "\ud83d", 0, 1, "surrogates not allowed")
        return real(body, url, source, content_type)

    monkeypatch.setattr("syndicate.poller.parse_feed", explode)
    monkeypatch.setattr(cli, "runtime_for", lambda _path: rt)
    result = CliRunner().invoke(cli.main, ["poll"])
    assert result.exit_code == 1  # it failed, and says so at the end ...
    assert "bad: error" in result.output and "UnicodeEncodeError" in result.output
    assert "good: baseline" in result.output  # ... after polling every source
    state = rt.poller.state("bad")
    assert "UnicodeEncodeError" in state["last_error"]
    assert rt.source_problems()[0]["source"] == "bad"


def test_one_bad_entry_is_skipped_with_its_reason(make_runtime, feed_server, monkeypatch) -> None:
    rt, _, _ = served(make_runtime, feed_server, rss(item(1) + item(2) + item(3)))
    real = parse_mod._entry

    def odd(e, *args):  # type: ignore[no-untyped-def]
        if e.get("id") == "wild-2":
            raise ValueError("an entry nobody foresaw")
        return real(e, *args)

    monkeypatch.setattr(parse_mod, "_entry", odd)
    result = rt.poll("wild")
    assert len(result.new) == 2 and len(result.skipped) == 1
    assert "wild-2: ValueError: an entry nobody foresaw" in result.skipped[0]
    assert "an entry nobody foresaw" in rt.poller.state("wild")["skipped"]
    page = create_app(rt).test_client().get("/api/deliveries")
    assert page.status_code == 200
    metrics = create_app(rt).test_client().get("/metrics").get_data(as_text=True)
    assert 'syndicate_entries_skipped_total{source="wild"} 1.0' in metrics


# 2 -------------------------------------------------------------------------------------------
def test_control_characters_in_links_and_guids_never_break_a_reader_feed(make_runtime,
                                                                         feed_server) -> None:
    body = rss(item(1, guid="wild&#x1;-1", link="https://wild.example/a&#x1;b")
               + item(2, title="Cat&#x1b;egory") + item(3))
    rt, _, _ = served(make_runtime, feed_server, body)
    rt.poll("wild")
    for e in rt.store.latest(10):
        assert "\x01" not in e.guid + e.link and "\x1b" not in e.title
    reader_feeds_are_valid(rt)


# 3 -------------------------------------------------------------------------------------------
def test_podcast_episodes_sharing_a_description_stay_distinct(make_runtime, feed_server) -> None:
    body = rss("".join(item(n, title=f"Episode {n}", desc=DESC) for n in range(1, 4)))
    rt, _, _ = served(make_runtime, feed_server, body)
    result = rt.poll("wild")
    assert len(result.new) == 3 and rt.store.count() == 3
    feed_server.put("/wild", body + b" ")  # polled again: still three, nothing "edited"
    again = rt.poll("wild")
    assert again.new == [] and again.changed == []


def test_a_repeated_guid_for_another_link_keeps_both_posts(make_runtime, feed_server) -> None:
    body = rss(item(1, guid="same") + item(2, guid="same"))
    rt, _, _ = served(make_runtime, feed_server, body)
    assert len(rt.poll("wild").new) == 2
    assert {e.link for e in rt.store.latest(5)} == {"https://wild.example/1",
                                                     "https://wild.example/2"}


def test_the_same_post_on_two_blogs_is_still_one(make_runtime, feed_server) -> None:
    a = feed_server.put("/a", rss(item(1, title="Entropy", desc=DESC, link="https://a.example/e",
                                       guid="a-1")))
    b = feed_server.put("/b", rss(item(1, title="Entropy", desc=DESC, link="https://b.example/e",
                                       guid="b-1")))
    rt, _ = make_runtime(sources=[{"name": "a", "url": a, "backfill": True},
                                  {"name": "b", "url": b, "backfill": True}])
    assert len(rt.poll("a").new) == 1
    assert rt.poll("b").new == [] and rt.store.count() == 1
    # Different titles with the same text: two posts.
    c = feed_server.put("/c", rss(item(1, title="Other", desc=DESC, link="https://c.example/o",
                                       guid="c-1")))
    rt2, _ = make_runtime(sources=[{"name": "c", "url": c, "backfill": True}])
    assert len(rt2.poll("c").new) == 1


# 4 -------------------------------------------------------------------------------------------
def test_slow_headers_cannot_hold_a_poll_past_its_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
    with dripping(head, b"X-Slow: aaaaaaaa", 0.05) as url, \
            pytest.raises(FetchError, match="took longer than 1s"):
        fetch(url, timeout=1.0, allow_private=True)


# 5 -------------------------------------------------------------------------------------------
def test_deep_nesting_is_flattened_before_cleaning() -> None:
    deep = "<div>" * 100_000 + "deep text" + "</div>" * 100_000
    body = rss(item(1, desc=f"<![CDATA[{deep}]]>"))
    (entry,) = parse_feed(body, "https://wild.example/feed", "wild").entries
    assert "deep text" in entry.summary
    assert entry.summary.count("<div>") <= MAX_DEPTH


def test_a_body_past_the_size_limit_is_skipped_not_fatal() -> None:
    huge = "<p>" + "x" * 2_200_000 + "</p>"
    body = rss(item(1, desc=f"<![CDATA[{huge}]]>") + item(2))
    feed = parse_feed(body, "https://wild.example/feed", "wild")
    assert [e.title for e in feed.entries] == ["Post 2"]
    assert "over the" in feed.skipped[0]


# 6 -------------------------------------------------------------------------------------------
def test_one_invalid_byte_does_not_turn_the_feed_into_mojibake() -> None:
    body = rss(item(1, title="It’s a café", desc="Caf\u00e9 au lait")).replace(
        b"Body", b"B").replace(b"au lait", b"au \x92 lait")
    (entry,) = parse_feed(body, "https://wild.example/feed", "wild").entries
    assert entry.title == "It’s a café"
    assert "Café au \ufffd lait" in entry.summary


# 7 -------------------------------------------------------------------------------------------
def test_titles_are_plain_text() -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
    <title>t</title><id>tag:w,1:f</id><updated>2025-12-01T00:00:00Z</updated>
    <entry><title type="text">Why &lt;div&gt; soup is bad</title><id>tag:w,1:1</id>
      <link href="https://w.example/1"/><updated>2025-12-01T00:00:00Z</updated></entry>
    <entry><title type="text">Vec&lt;T&gt; in Rust</title><id>tag:w,1:2</id>
      <link href="https://w.example/2"/><updated>2025-12-01T00:00:00Z</updated></entry>
    <entry><title type="html">&lt;b&gt;Bold&lt;/b&gt; &lt;code&gt;move&lt;/code&gt; &amp;amp; more</title>
      <id>tag:w,1:3</id><link href="https://w.example/3"/><updated>2025-12-01T00:00:00Z</updated></entry>
    </feed>"""
    titles = [e.title for e in parse_feed(atom, "https://w.example/feed", "w").entries]
    assert titles == ["Why <div> soup is bad", "Vec<T> in Rust", "Bold move & more"]


# 8 -------------------------------------------------------------------------------------------
def test_dates_are_believable_and_written_validly(make_runtime, feed_server) -> None:
    body = rss(item(1, date="") + item(2, date="Fri, 31 Dec 9999 23:59:59 +0000")
               + item(3, date="Mon, 01 Jan 0001 00:00:00 +0000")
               + item(4, date="Mon, 01 Dec 2025 10:00:00 +0000"),
               channel="")
    rt, _, _ = served(make_runtime, feed_server, body)
    before = time.time()
    rt.poll("wild")
    entries = {e.title: e for e in rt.store.latest(10)}
    for name in ("Post 1", "Post 2", "Post 3"):  # dated when first seen, not 1970 or 9999
        assert before - 5 <= entries[name].published <= time.time() + 1, name
    assert entries["Post 4"].published == datetime(2025, 12, 1, 10, tzinfo=UTC).timestamp()
    assert [e.title for e in rt.store.latest(10)][-1] == "Post 4"  # undated ones sort as new
    client = create_app(rt).test_client()
    rss_doc = etree.fromstring(client.get("/feed.xml").data)
    for date in rss_doc.iter("pubDate", "lastBuildDate"):
        assert email.utils.parsedate_to_datetime(date.text).year >= 1980
    atom_doc = etree.fromstring(client.get("/feed.atom").data)
    for date in atom_doc.iter("{http://www.w3.org/2005/Atom}updated",
                              "{http://www.w3.org/2005/Atom}published"):
        datetime.fromisoformat(date.text)


def test_reader_feed_details(make_runtime, feed_server) -> None:
    atom = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
    <title>t</title><id>tag:w,1:f</id><updated>2025-12-01T00:00:00Z</updated>
    <entry><title>One</title><id>tag:w,1:1</id><link href="https://w.example/1"/>
      <author><name>Sanjay Basu</name><email>noreply@blogger.com</email></author>
      <updated>2025-12-01T00:00:00Z</updated>
      <summary type="html">&lt;p&gt;A &lt;b&gt;short&lt;/b&gt; teaser&lt;/p&gt;</summary>
      <content type="html">&lt;p&gt;The whole &lt;b&gt;post&lt;/b&gt;.&lt;/p&gt;</content></entry>
    </feed>"""
    rt, _, _ = served(make_runtime, feed_server, atom)
    rt.poll("wild")
    (entry,) = rt.store.latest(1)
    assert entry.author == "Sanjay Basu"
    client = create_app(rt).test_client()
    channel = etree.fromstring(client.get("/feed.xml").data).find("channel")
    assert channel.findtext("link") == rt.config.site.url
    creator = channel.find("item/{http://purl.org/dc/elements/1.1/}creator")
    assert creator is not None and creator.text == "Sanjay Basu"
    (item_json,) = client.get("/feed.json").get_json()["items"]
    assert item_json["summary"] == "A short teaser"


# 9 -------------------------------------------------------------------------------------------
ENTITY_DOC = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">]>
<rss version="2.0"><channel><title>&a;</title></channel></rss>"""


@pytest.mark.parametrize("body", [
    ENTITY_DOC.replace(b"<?xml version=\"1.0\"?>", b"<?xml version=\"1.0\"?><!--"
                       + b" " * 70_000 + b"-->"),
    ENTITY_DOC.decode().replace('<?xml version="1.0"?>',
                                '<?xml version="1.0" encoding="utf-16"?>').encode("utf-16"),
], ids=["padded", "utf-16"])
def test_the_entity_guard_cannot_be_hidden(body: bytes) -> None:
    with pytest.raises(FeedError, match="declares XML entities"):
        parse_feed(body, "https://wild.example/feed", "wild")


@pytest.mark.parametrize("body", [
    b"""<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//W3C//ENTITIES Latin 1//EN//HTML"
    "http://www.w3.org/TR/html4/HTMLlat1.ent"><rss version="2.0"><channel><title>t</title>
    <item><title>Harmless</title><link>https://w.example/1</link></item></channel></rss>""",
    rss(item(1, desc="<![CDATA[<p>How to write <!ENTITY x 'y'> in a DTD</p>]]>")),
], ids=["public-dtd", "entity-in-cdata"])
def test_the_entity_guard_lets_harmless_feeds_through(body: bytes) -> None:
    (entry,) = parse_feed(body, "https://wild.example/feed", "wild").entries
    assert entry.link in ("https://w.example/1", "https://wild.example/1")  # read, not refused


# property ------------------------------------------------------------------------------------
_odd = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40) | \
    st.sampled_from(["&#55357;&#56832;", "&#xD800;", "&#x110000;", "&#x1;", "\x0b", "<b>x</b>",
                     "&lt;div&gt;", "]]>", "&amp;", "é", "\ufffe", "javascript:alert(1)"])
_dates = st.sampled_from(["", "Mon, 01 Dec 2025 10:00:00 +0000", "Fri, 31 Dec 9999 23:59:59 +0000",
                          "Mon, 01 Jan 0001 00:00:00 +0000", "garbage", "2025-12-01T10:00:00Z"])


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(_odd, _odd, st.integers(0, 3), _dates, st.integers(0, 30)),
                min_size=1, max_size=8))
def test_random_odd_feeds_never_break_parse_store_or_reader_feeds(make_runtime, items) -> None:
    parts = []
    for n, (title, body, guid, date, depth) in enumerate(items):
        raw_title = title if title.startswith("&#") else _xml_text(title)
        desc = "<![CDATA[" + "<div>" * depth + body.replace("]]>", "") + "</div>" * depth + "]]>"
        parts.append(item(n, title=raw_title, guid=f"g{guid}", date=date, desc=desc))
    doc = rss("".join(parts))
    try:
        feed = parse_feed(doc, "https://wild.example/feed", "wild")
    except FeedError:
        return  # refused with a clear error is a fine answer too
    rt, _ = make_runtime()
    for entry in feed.entries:
        rt.store.upsert(entry)
    reader_feeds_are_valid(rt)
