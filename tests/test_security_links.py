"""Links: a `javascript:` or `data:` URL from a feed or a platform never reaches a page, a feed,
an email or a target, and everything a template or footer inserts is escaped."""

from __future__ import annotations

import json
import re

from syndicate import feed as feed_mod
from syndicate.mail import render_email
from syndicate.parse import parse_feed
from syndicate.preview import previews
from syndicate.web import create_app

from .fakes.buttondown import API_KEY as BD_KEY
from .fakes.buttondown import ButtondownServer
from .fakes.http import LoopbackServer, Reply, Request
from .fakes.wordpress import APP_PASSWORD, USER, WordpressServer
from .helpers import drive, new_entry

QUOTE_BREAK = 'https://mind.example/p"><script>alert(1)</script>'
HOSTILE = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
  <title>Hostile</title><link rel="alternate" href="https://mind.example/"/>
  <id>tag:mind.example,2025:feed</id><updated>2025-12-01T00:00:00Z</updated>
  <entry>
    <title>Script link</title><id>tag:mind.example,2025:post-1</id>
    <link rel="alternate" href="javascript:alert(document.cookie)"/>
    <media:thumbnail url="javascript:alert(2)"/>
    <updated>2025-12-01T00:00:00Z</updated><content type="html">&lt;p&gt;one&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Data guid</title><id>data:text/html,&lt;script&gt;alert(3)&lt;/script&gt;</id>
    <link rel="alternate" href="https://mind.example/2025/12/two.html"/>
    <updated>2025-12-01T00:00:00Z</updated><content type="html">&lt;p&gt;two&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Only a script guid</title><id>javascript:alert(4)</id>
    <updated>2025-12-01T00:00:00Z</updated><content type="html">&lt;p&gt;three&lt;/p&gt;</content>
  </entry>
  <entry>
    <title>Spaced</title><id>tag:mind.example,2025:post-5</id>
    <link rel="alternate" href=" JaVaScRiPt:alert(5)"/>
    <updated>2025-12-01T00:00:00Z</updated><content type="html">&lt;p&gt;five&lt;/p&gt;</content>
  </entry>
</feed>"""


def test_only_http_links_survive_the_parse() -> None:
    feed = parse_feed(HOSTILE, "https://mind.example/feed", "blogger")
    by_title = {e.title: e for e in feed.entries}
    assert "Only a script guid" not in by_title  # nothing left that could identify it
    one = by_title["Script link"]
    assert one.link == "" and one.image == "" and one.guid == "tag:mind.example,2025:post-1"
    two = by_title["Data guid"]
    assert two.link == "https://mind.example/2025/12/two.html" and two.guid == two.link
    assert by_title["Spaced"].link == ""
    for e in feed.entries:
        assert not re.search(r"javascript:|data:", e.link + e.guid + e.image, re.I)


def test_no_script_link_reaches_a_feed_page_or_email(make_runtime, feed_server) -> None:
    url = feed_server.put("/feed", HOSTILE)
    rt, _ = make_runtime(sources=[{"name": "blogger", "url": url, "backfill": True}],
                         admin={"token": "admin-token-0123456789"})
    rt.poll("blogger")
    # An entry kept by an older version, before the parse refused such links.
    eid = new_entry(rt, 9, fan_out=False, link="javascript:alert(9)", image="data:x")
    assert rt.store.get(eid).link == ""  # checked again on the way out of the store
    client = create_app(rt).test_client()
    shown = [client.get(p).get_data(as_text=True) for p in ("/feed.xml", "/feed.atom", "/feed.json")]
    page = client.get("/", headers={"Authorization": "Bearer admin-token-0123456789"})
    shown.append(page.get_data(as_text=True))
    shown.append(json.dumps(rt.deliveries()))
    for e in rt.store.latest(20):
        html, text = render_email(e, rt.config.site)
        shown += [html, text]
    for text in shown:
        assert not re.search(r"javascript:|data:text", text, re.I), text[:400]
    for fmt in feed_mod.FORMATS:  # and every feed is still well formed
        assert feed_mod.render(rt.config.site, fmt, rt.store.latest(20))


def test_templates_and_footers_escape_what_they_insert(make_runtime) -> None:
    wp, bd = WordpressServer().start(), ButtondownServer().start()
    try:
        rt, _ = make_runtime(targets=[
            {"name": "wp", "kind": "wordpress", "base_url": wp.url, "username": USER,
             "app_password": APP_PASSWORD},
            {"name": "bd", "kind": "buttondown", "api_key": BD_KEY, "base_url": bd.url}])
        eid = new_entry(rt, fan_out=False, link=QUOTE_BREAK, title="<img src=x onerror=alert(1)>")
        entry = rt.store.get(eid)
        for p in previews(rt, entry):
            body = json.loads(p.text.split("\n\n", 1)[1])
            # A subject is plain text; every HTML field carries the title and link escaped.
            html_fields = {k: v for k, v in body.items() if k in ("title", "content", "body")}
            assert html_fields and "<script>" not in json.dumps(html_fields), p.text
            assert "<img src=x" not in json.dumps(html_fields)
        html, _ = render_email(entry, rt.config.site)
        assert "<script>" not in html and "<img src=x onerror" not in html
    finally:
        wp.stop()
        bd.stop()


class JsReply(LoopbackServer):
    """A dev.to-like platform whose answer names a script URL as the copy's address."""

    def handle(self, request: Request) -> Reply:
        if request.method == "GET":
            return Reply(200, [])
        return Reply(201, {"id": 7, "url": "javascript:alert(document.domain)",
                           "canonical_url": "https://mind.blogspot.example/"})


def test_a_platforms_remote_url_must_be_http(make_runtime) -> None:
    server = JsReply().start()
    try:
        rt, _ = make_runtime(targets=[{"name": "devto", "kind": "devto", "api_key": "k" * 20,
                                       "base_url": server.url}])
        eid = new_entry(rt)
        assert drive(rt, eid, "devto").state == "delivered"
        d = rt.ledger.get(eid, "devto")
        assert d is not None and d.remote_id == "7" and d.remote_url == ""
        page = create_app(rt).test_client().get("/api/deliveries").get_data(as_text=True)
        assert "javascript:" not in page
    finally:
        server.stop()
