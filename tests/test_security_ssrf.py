"""SSRF: a URL from outside (feed, redirect, post page, hub) never gets a request to an address the
guard refuses, even when its name answers differently to the check and to the connection."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import pytest

from syndicate import websub
from syndicate.config import SiteConfig, SourceConfig
from syndicate.entry import Entry
from syndicate.errors import TransientError
from syndicate.fetch import UnsafeURL, fetch
from syndicate.fulltext import FullText
from syndicate.keys import Keys
from syndicate.session import Session

from .fakes.http import FormRecorder, LoopbackServer, Reply, Request

PUBLIC = "93.184.216.34"  # only ever handed to the check: nothing connects to it here


class Page(LoopbackServer):
    def handle(self, request: Request) -> Reply:
        return Reply(200, "<html><body><article><p>" + "secret internal page " * 40
                     + "</p></article></body></html>", content_type="text/html")


@pytest.fixture
def internal() -> Iterator[Page]:
    server = Page().start()
    yield server
    server.stop()


@pytest.fixture
def rebinding(monkeypatch, internal):
    """`rebind.example` answers a public address to its first lookup, 127.0.0.1 after that:
    what an attacker's DNS server with a zero TTL does."""
    real = socket.getaddrinfo
    answers = {"n": 0}
    port = int(internal.url.rsplit(":", 1)[1])

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "rebind.example":
            return real(host, *args, **kwargs)
        answers["n"] += 1
        addr = PUBLIC if answers["n"] == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (addr, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return f"http://rebind.example:{port}", answers


def test_dns_rebinding_cannot_reach_loopback_through_a_feed(rebinding, internal) -> None:
    base, answers = rebinding
    with pytest.raises(UnsafeURL, match="127.0.0.1"):
        fetch(base + "/feed")
    assert answers["n"] == 2  # checked once, then the connection's own lookup refused
    assert internal.requests_seen == 0


def test_dns_rebinding_cannot_reach_loopback_through_a_post_page(rebinding, internal, r,
                                                                  prefix) -> None:
    base, _ = rebinding
    entry = Entry(source="wp", guid="g1", link=base + "/2025/12/post/", title="Teaser",
                  summary="<p>only an excerpt</p>", excerpt_only=True, id="e1")
    with pytest.raises(TransientError, match="not a public address"):
        FullText(r, Keys(prefix)).complete(entry)
    assert internal.requests_seen == 0


def test_a_connection_opened_without_the_guard_is_not_reused_inside_it(monkeypatch,
                                                                        internal) -> None:
    """A source allowed to reach private addresses must not leave a pooled connection that a
    guarded fetch of the same name would then ride on."""
    real = socket.getaddrinfo
    port = int(internal.url.rsplit(":", 1)[1])
    answers = iter(["127.0.0.1", PUBLIC, "127.0.0.1"])

    def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host != "pooled.example":
            return real(host, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    url = f"http://pooled.example:{port}/feed"
    with Session() as http:
        assert fetch(url, session=http, allow_private=True).status == 200
        with pytest.raises(UnsafeURL):
            fetch(url, session=http)
    assert internal.requests_seen == 1


@pytest.mark.parametrize("hub", ["http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:{port}/",
                                 "http://[::1]:{port}/", "http://0x7f000001:{port}/",
                                 "file:///etc/passwd", "gopher://127.0.0.1:{port}/"])
def test_a_feeds_hub_is_never_asked_unless_public(r, prefix, caplog, hub) -> None:
    recorder = FormRecorder(202).start()
    try:
        port = recorder.url.rsplit(":", 1)[1]
        src = SourceConfig(name="blogger", url="https://mind.example/feed")
        site = SiteConfig(url="https://home.example/")
        state = {"hub": hub.format(port=port)}
        caplog.set_level(logging.INFO)
        assert websub.subscribe(r, Keys(prefix), site, src, state) is False
        assert recorder.requests_seen == 0
        assert "refusing" in caplog.text or "scheme" in caplog.text
    finally:
        recorder.stop()


def test_a_hub_that_redirects_is_not_followed_and_its_answer_not_logged(r, prefix,
                                                                        caplog) -> None:
    class Redirecting(LoopbackServer):
        def handle(self, request: Request) -> Reply:
            return Reply(307, "internal answer: do not log me",
                         headers={"Location": "http://169.254.169.254/"})

    hub = Redirecting().start()
    try:
        src = SourceConfig(name="blogger", url="https://mind.example/feed", allow_private=True)
        caplog.set_level(logging.INFO)
        assert websub.subscribe(r, Keys(prefix), SiteConfig(url="http://127.0.0.1:8080/"),
                                src, {"hub": hub.url + "/"}) is False
        assert hub.requests_seen == 1
        assert "HTTP 307" in caplog.text and "do not log me" not in caplog.text
    finally:
        hub.stop()
