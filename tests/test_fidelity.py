"""Every fixture post, in every format the targets send: 100% of its text, links, image URLs,
table cells and code survive (Markdown is rendered back to HTML to compare)."""

from __future__ import annotations

import pytest

from syndicate.config import SiteConfig, TargetConfig
from syndicate.entry import Entry
from syndicate.parse import parse_feed
from syndicate.targets import build

from .conftest import fixture_bytes
from .fidelity import kept, markdown_to_html

POSTS: list[Entry] = [
    *parse_feed(fixture_bytes("blogger-atom.xml"), "http://127.0.0.1/f", "blogger").entries,
    *parse_feed(fixture_bytes("wordpress-rss.xml"), "http://127.0.0.1/f", "wordpress").entries,
]

# What each target kind sends, rendered as HTML for comparison.
FORMATS = {
    "html (ghost, wordpress, medium)": lambda t, e: t.body_html(e),
    "markdown (devto)": lambda t, e: markdown_to_html(t.body_markdown(e)),
    "markdown (hashnode)": lambda t, e: markdown_to_html(t.body_markdown(e)),
}
KIND = {"html (ghost, wordpress, medium)": "ghost", "markdown (devto)": "devto",
        "markdown (hashnode)": "hashnode"}
OPTS = {"ghost": {"admin_url": "http://x", "admin_key": "a:00", "status": "draft"},
        "devto": {"api_key": "k"}, "hashnode": {"token": "t", "publication_id": "p"}}


def _target(kind: str):  # type: ignore[no-untyped-def]
    return build(TargetConfig(name=kind, kind=kind, options=OPTS[kind]),
                 SiteConfig(title="Sanjay Basu"))


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("post", POSTS, ids=[p.title[:30] for p in POSTS])
def test_everything_is_kept(post: Entry, fmt: str) -> None:
    target = _target(KIND[fmt])
    output = FORMATS[fmt](target, post)
    shares = kept(post.body_html, output)
    assert shares == {"text": 1.0, "links": 1.0, "images": 1.0, "cells": 1.0, "code": 1.0}, shares
    assert post.link in output  # and it points home


def test_the_checker_sees_each_kind_of_loss() -> None:
    titans = next(p for p in POSTS if p.title.startswith("Parallel"))
    llm = next(p for p in POSTS if p.title.startswith("LLM training"))
    src = titans.body_html
    assert kept(src, src.replace("<pre>", "<p>").replace("</pre>", "</p>"))["code"] < 1.0
    assert kept(src, src.replace('<img', '<i'))["images"] < 1.0
    assert kept(src, src.replace("youtube.example", "elsewhere.example"))["links"] < 1.0
    assert kept(src, src.replace("Transformer", ""))["text"] < 1.0
    table = llm.body_html
    assert kept(table, table.replace("<td><strong>Training</strong></td>", ""))["cells"] < 1.0
