"""One conversion layer for every consumer of a post's body: the reader feed and every target.

`clean_html` sanitises with nh3 (scripts and event handlers gone, embeds kept) and makes every link
and image absolute against the post's own URL, so the body still works when it is read elsewhere.
`to_markdown` and `to_text` derive the other formats from that clean HTML.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import nh3

from . import plaintext
from .urls import safe_url

__all__ = ["clean_html", "first_image", "safe_url", "shorten", "strip_control", "to_markdown",
           "to_text"]

_TAGS = set(nh3.ALLOWED_TAGS) | {"iframe", "video", "audio", "source", "picture"}
_ATTRS: dict[str, set[str]] = copy.deepcopy(nh3.ALLOWED_ATTRIBUTES)
_ATTRS.setdefault("a", set()).update({"href", "title"})
_ATTRS.setdefault("img", set()).update({"src", "alt", "title", "width", "height", "srcset"})
_ATTRS["iframe"] = {"src", "title", "width", "height", "allowfullscreen"}
_ATTRS["video"] = {"src", "controls", "poster", "width", "height"}
_ATTRS["audio"] = {"src", "controls"}
_ATTRS["source"] = {"src", "type"}
_ATTRS.setdefault("code", set()).add("class")
_ATTRS.setdefault("pre", set()).add("class")
_URL_ATTRS = {"href", "src", "poster", "cite"}
_DROP_WITH_CONTENT = {"script", "style", "noscript", "template", "object", "embed"}
_LANG_CLASS = re.compile(r"\b(?:language|lang)-([\w+#.-]+)")
# Characters XML 1.0 forbids: one of them in a title would make every feed and email invalid.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def strip_control(text: str) -> str:
    return _XML_INVALID.sub("", text or "")


def _absolute(base: str) -> Callable[[str, str, str], str | None]:
    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr in _URL_ATTRS:
            url = urljoin(base, value.strip()) if base else value.strip()
            scheme = urlsplit(url).scheme.lower()
            if scheme not in ("http", "https", "mailto", ""):
                return None
            return url
        if attr == "srcset":
            parts = []
            for item in value.split(","):
                bits = item.strip().split()
                if bits:
                    bits[0] = urljoin(base, bits[0]) if base else bits[0]
                    parts.append(" ".join(bits))
            return ", ".join(parts)
        if attr == "class":
            # Keep only what carries meaning downstream: a code block's language.
            m = _LANG_CLASS.search(value)
            return f"language-{m.group(1)}" if m else None
        return value

    return attribute_filter


MAX_DEPTH = 200  # deeper nesting is no layout anyone reads; it only costs the cleaner
MAX_HTML = 2 * 1024 * 1024  # characters of one body; past it the entry is refused
_TAG_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)\b[^>]*?(/?)>")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "param", "source", "track", "wbr"})


class BodyTooLarge(ValueError):
    """A body past `MAX_HTML`: the entry is left out with this reason, the poll goes on."""


def flatten(html: str, max_depth: int = MAX_DEPTH) -> str:
    """Drop the tags nested deeper than `max_depth`, keeping their text. The cleaner's cost
    grows with the square of the nesting (50,000 nested divs took 8 s), so a hostile or broken
    body is made shallow first, in one linear pass."""
    if html.count("<") <= max_depth:
        return html  # cannot be that deep
    out: list[str] = []
    depth = pos = 0
    for m in _TAG_TOKEN.finditer(html):
        closing, name, self_closing = m.group(1), m.group(2).lower(), m.group(3)
        out.append(html[pos:m.start()])
        pos = m.end()
        if name in _VOID or self_closing:
            if depth < max_depth:
                out.append(m.group(0))
        elif closing:
            if depth <= max_depth:
                out.append(m.group(0))
            depth = max(0, depth - 1)
        else:
            depth += 1
            if depth <= max_depth:
                out.append(m.group(0))
    out.append(html[pos:])
    return "".join(out)


def clean_html(html: str, base_url: str = "") -> str:
    """Sanitised HTML with absolute URLs. Iframes stay (embeds are content), scripts go.
    Its cost is bounded: at most `MAX_HTML` characters, nested at most `MAX_DEPTH` deep."""
    if not html:
        return ""
    if len(html) > MAX_HTML:
        raise BodyTooLarge(f"a body of {len(html):,} characters is over the "
                           f"{MAX_HTML:,}-character limit")
    return nh3.clean(
        flatten(strip_control(html)),
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRS,
        attribute_filter=_absolute(base_url),
        link_rel=None,
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
    ).strip()


@functools.cache
def _markdown_class() -> type[Any]:
    """markdownify with embeds as links (or the platform's embed syntax) and fenced code.

    Imported on first use: markdownify (and BeautifulSoup under it) is a tenth of a second of
    every process's start, and only the targets that take Markdown need it."""
    import markdownify

    class Markdown(markdownify.MarkdownConverter):
        def __init__(self, embed: str | None = None, **options: Any) -> None:
            super().__init__(**options)
            self.embed = embed

        def convert_iframe(self, el: Any, text: str, parent_tags: set[str]) -> str:
            src = el.get("src") or ""
            if not src:
                return ""
            if self.embed:
                return "\n\n" + self.embed.format(url=src) + "\n\n"
            title = el.get("title") or src
            return f"\n\n[{title}]({src})\n\n"

        convert_video = convert_iframe

    return Markdown


def _code_language(el: Any) -> str:
    for node in [el, *el.find_all("code")]:
        for cls in node.get("class") or []:
            m = _LANG_CLASS.search(cls)
            if m:
                return m.group(1)
    return ""


def to_markdown(html: str, *, embed: str | None = None) -> str:
    """Markdown for APIs that want it. `embed` is a template such as `{% embed {url} %}`."""
    if not html:
        return ""
    md = _markdown_class()(
        embed=embed,
        heading_style="ATX",
        bullets="-",
        code_language_callback=_code_language,
        escape_underscores=False,
        escape_asterisks=False,
    ).convert(html)
    return re.sub(r"\n{3,}", "\n\n", md).strip() + "\n"


def to_text(html: str) -> str:
    """A plain-text rendering that reads well on its own, with links written out."""
    return plaintext.to_text(html)


def shorten(text: str, limit: int) -> str:
    """Cut on a word boundary, with an ellipsis, when `text` is longer than `limit`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.-–—")
    return cut + "…"


def has_bare_text(html: str) -> bool:
    """Whether some text stands at the top level of `html`, outside any element."""
    try:
        parts = lxml.html.fragments_fromstring(html) if html.strip() else []
    except (ValueError, lxml.etree.ParserError):
        return False
    return any(isinstance(p, str) and p.strip() for p in parts) or any(
        (p.tail or "").strip() for p in parts if not isinstance(p, str))


def first_image(html: str) -> str:
    m = re.search(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", html or "")
    return m.group(1) if m else ""
