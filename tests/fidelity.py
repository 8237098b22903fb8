"""Measures how much of a post survives a conversion: text, links, image URLs, table cells, code.

`features` reads HTML into comparable sets; `kept` says, per feature, what share of the source's
items the output still has (1.0 = all of them).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser

import markdown

from syndicate.identity import normalize_text

_URL_IN_TEXT = re.compile(r"https?://[^\s)\]\"'<>%]+")


@dataclass
class Features:
    words: Counter[str] = field(default_factory=Counter)
    links: set[str] = field(default_factory=set)
    images: set[str] = field(default_factory=set)
    cells: Counter[str] = field(default_factory=Counter)
    code: list[str] = field(default_factory=list)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.f = Features()
        self.text: list[str] = []
        self.cell: list[str] | None = None
        self.pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.f.links.add(a["href"] or "")
        if tag == "iframe" and a.get("src"):
            self.f.links.add(a["src"] or "")
        if tag == "img" and a.get("src"):
            self.f.images.add(a["src"] or "")
        if tag in ("td", "th"):
            self.cell = []
        if tag == "pre":
            self.pre = []
        if tag in ("p", "br", "div", "li", "h1", "h2", "h3", "h4", "td", "th", "tr", "pre"):
            self.text.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.f.cells[normalize_text("".join(self.cell))] += 1
            self.cell = None
        if tag == "pre" and self.pre is not None:
            self.f.code.append("".join(self.pre).strip("\n"))
            self.pre = None
        self.text.append(" ")

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)
        if self.pre is not None:
            self.pre.append(data)
        self.f.links.update(_URL_IN_TEXT.findall(data))  # embeds written as text keep their URL


def features(html: str) -> Features:
    r = _Reader()
    r.feed(html)
    r.close()
    r.f.words = Counter(normalize_text("".join(r.text)).split())
    return r.f


def markdown_to_html(md: str) -> str:
    return markdown.markdown(md, extensions=["tables", "fenced_code"])


def _share(source: Counter[str] | set[str] | list[str], output: Counter[str] | set[str] | list[str]
           ) -> float:
    src, out = Counter(source), Counter(output)
    total = sum(src.values())
    if not total:
        return 1.0
    return sum(min(n, out[k]) for k, n in src.items()) / total


def kept(source_html: str, output_html: str) -> dict[str, float]:
    s, o = features(source_html), features(output_html)
    return {"text": _share(s.words, o.words), "links": _share(s.links, o.links),
            "images": _share(s.images, o.images), "cells": _share(s.cells, o.cells),
            "code": _share(s.code, o.code)}
