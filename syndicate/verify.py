"""Reading a copy back: did the platform keep what it was sent?

Platforms change posts silently: WordPress strips an iframe from an account without
`unfiltered_html`, a title is cut to a length limit, a sanitiser drops a link. The API still
answers 201. After a create or an update, an adapter that can read its copy back hands both
sides here; what differs (normalised: text, links, images, code blocks, table cells, embeds,
title) becomes the delivery's `drift`, shown to a person. It never causes a resend.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import lxml.html

from .identity import normalize_text, normalize_url


@dataclass(frozen=True)
class Copy:
    """What a platform holds: the title and the body as HTML (Markdown platforms render it)."""

    title: str
    html: str


def _features(html: str) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {k: Counter() for k in
                                    ("links", "images", "iframes", "code", "cells")}
    if not html.strip():
        return out
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return out
    for a in root.iter("a"):
        href = a.get("href")
        if href and href.startswith(("http://", "https://")):
            out["links"][normalize_url(href)] += 1
    for img in root.iter("img"):
        if img.get("src"):
            out["images"][normalize_url(img.get("src") or "")] += 1
    for frame in root.iter("iframe"):
        out["iframes"][frame.get("src") or ""] += 1
    for pre in root.iter("pre"):
        out["code"][" ".join(pre.text_content().split())] += 1
    for cell in root.iter("td", "th"):
        out["cells"][normalize_text(cell.text_content())] += 1
    return out


_NOUNS = {"links": ("link", "links"), "images": ("image", "images"),
          "iframes": ("embed (iframe)", "embeds (iframes)"),
          "code": ("code block", "code blocks"), "cells": ("table cell", "table cells")}


def _count(n: int, kind: str) -> str:
    one, many = _NOUNS[kind]
    return f"{n} {one if n == 1 else many}"


def compare(sent: Copy, got: Copy) -> list[str]:
    """What the platform changed, one short sentence each; empty when it kept everything."""
    drift: list[str] = []
    want_title, have_title = " ".join(sent.title.split()), " ".join(got.title.split())
    if want_title != have_title:
        if have_title and want_title.startswith(have_title.rstrip("…").rstrip()):
            drift.append(f"title cut to {len(have_title)} characters")
        else:
            drift.append(f"title changed to {have_title!r}")
    a, b = _features(sent.html), _features(got.html)
    for kind in ("iframes", "links", "images", "code", "cells"):
        removed = sum((a[kind] - b[kind]).values())
        added = sum((b[kind] - a[kind]).values())
        if removed:
            drift.append(f"the platform removed {_count(removed, kind)}")
        if added and kind != "links":  # platforms add links of their own (tags, permalinks)
            drift.append(f"the platform added {_count(added, kind)}")
    want, have = normalize_text(sent.html).split(), normalize_text(got.html).split()
    if want != have:
        lost = sum((Counter(want) - Counter(have)).values())
        extra = sum((Counter(have) - Counter(want)).values())
        if lost or extra:
            drift.append(f"text changed ({lost} words missing, {extra} added)")
    return drift
