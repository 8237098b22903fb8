from __future__ import annotations

import pytest

from syndicate.errors import FeedError
from syndicate.parse import parse_feed

from .conftest import fixture_bytes


@pytest.fixture(scope="module")
def blogger():
    return parse_feed(fixture_bytes("blogger-atom.xml"), "http://127.0.0.1/feeds/posts/default",
                      "blogger")


@pytest.fixture(scope="module")
def wordpress():
    return parse_feed(fixture_bytes("wordpress-rss.xml"), "http://127.0.0.1/feed/", "wordpress")


def test_blogger_feed(blogger) -> None:
    assert blogger.link == "https://synthetic-mind.blogspot.example/"
    assert blogger.hub == "http://pubsubhubbub.appspot.com/"
    assert [e.title for e in blogger.entries] == [
        "The Synthetic Mind", "Thanatos", "The Split Personality of AI Inference"]
    first = blogger.entries[0]
    assert first.post_id == "blogger:7301422960115572211:4410958261731650029"
    assert first.link == "https://synthetic-mind.blogspot.example/2025/12/the-synthetic-mind.html"
    assert first.categories == ["AI", "Philosophy"]
    assert first.image.endswith("/s72-c/synthetic-mind.png")
    assert "<h3>At the Threshold" in first.content_html
    assert "☠️" in blogger.entries[1].content_html
    code = blogger.entries[2].content_html
    assert "<pre><code>prefill: O(n^2) attention over the prompt\ndecode:" in code


def test_wordpress_feed(wordpress) -> None:
    titles = [e.title for e in wordpress.entries]
    assert len(titles) == 6
    by_title = {e.title: e for e in wordpress.entries}
    teleology = by_title["Teleology and Information Dynamics in Evolution:"]
    assert teleology.excerpt_only and not teleology.content_html
    assert "non‐equilibrium" in teleology.summary  # the U+2010 hyphen survives
    assert teleology.post_id == "wordpress:entropic-notes.wordpress.example:412"
    llm = by_title["LLM training vs. inference"]
    assert "<script" not in llm.content_html and "platform.twitter" not in llm.content_html
    assert "<table>" in llm.content_html and "<td><strong>Training</strong></td>" in llm.content_html
    titans = next(e for e in wordpress.entries if e.title.startswith("Parallel-Processing"))
    assert len(titans.title) > 128
    # Relative image URLs are made absolute against the post's link.
    assert ('src="https://entropic-notes.wordpress.example/wp-content/uploads/2025/05/'
            'h100-vs-910c.png"') in titans.content_html
    assert '<iframe' in titans.content_html and "youtube.example/embed/abc123" in titans.content_html
    assert "Kᵀ" in titans.content_html
    empty = by_title["life as an entropic process"]
    assert not empty.excerpt_only and "life-entropy-diagram.jpg" in empty.content_html
    assert empty.fingerprint == ""  # one image says too little to identify a post by content


def test_case_twins_are_distinct(wordpress) -> None:
    twins = [e for e in wordpress.entries if e.title.lower().startswith("an entropic comparison")]
    assert len(twins) == 2
    assert twins[0].fingerprint and twins[1].fingerprint
    assert twins[0].fingerprint != twins[1].fingerprint
    assert twins[0].post_id != twins[1].post_id


@pytest.mark.parametrize("body", [b"", b"<html><body>not a feed</body></html>", b"\x00\xff garbage"])
def test_garbage_is_a_clear_error(body: bytes) -> None:
    with pytest.raises(FeedError) as exc:
        parse_feed(body, "http://127.0.0.1/feed", "x")
    assert "http://127.0.0.1/feed" in str(exc.value)
