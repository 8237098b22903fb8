"""Jinja2 rendering of what people read: emails (one post or a digest).

Default templates ship in the package; a file of the same name in `config/templates/` (or
`$SYNDICATE_TEMPLATES`) overrides it, so an author can restyle without forking. The HTML is a
single 600px column with its CSS inlined (css-inline), because most mail clients ignore
`<style>`; images get absolute URLs (done when the feed was read) and a width that fits.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from urllib.parse import urlsplit

import css_inline
import jinja2
from markupsafe import escape

from . import content
from .config import SiteConfig
from .entry import Entry
from .identity import plain_text

TEMPLATES_ENV = "SYNDICATE_TEMPLATES"
COLUMN = 536  # 600px less the padding: the widest an image may be
_IMG_WIDTH = re.compile(r'(<img\b[^>]*?)\swidth="(\d+)"')
_IMG = re.compile(r"<img\b(?![^>]*\bwidth=)")
_IFRAME = re.compile(r"<iframe\b([^>]*)>.*?</iframe>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')


@lru_cache(maxsize=4)
def environment(override_dir: str | None = None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if override_dir and os.path.isdir(override_dir):
        loaders.append(jinja2.FileSystemLoader(override_dir))
    loaders.append(jinja2.PackageLoader("syndicate", "templates"))
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=False),
        keep_trailing_newline=True,
    )


def _env() -> jinja2.Environment:
    return environment(os.environ.get(TEMPLATES_ENV) or "config/templates")


def site_name(site: SiteConfig, entry: Entry) -> str:
    return site.title or urlsplit(entry.link).hostname or entry.link


def fit_images(html: str) -> str:
    """No image wider than the column (the `width` attribute is what Outlook obeys)."""
    html = _IMG_WIDTH.sub(lambda m: f'{m.group(1)} width="{min(int(m.group(2)), COLUMN)}"', html)
    return _IMG.sub(f'<img width="{COLUMN}"', html)


def embeds_as_links(html: str) -> str:
    """Mail clients drop iframes: an embedded video becomes a link to it, never nothing."""
    def link(m: re.Match[str]) -> str:
        attrs = dict(_ATTR.findall(m.group(1)))
        src = attrs.get("src", "")
        if not src:
            return ""
        label = escape(attrs.get("title") or src)
        return f'<p><a href="{escape(src)}">▶ {label}</a></p>'

    return _IFRAME.sub(link, html)


def email_html(html: str) -> str:
    return fit_images(embeds_as_links(html))


def excerpt(entry: Entry, limit: int = 300) -> str:
    text = " ".join(plain_text(entry.summary or entry.content_html).split())
    return content.shorten(text, limit)


def render_email(entry: Entry, site: SiteConfig, *, unsubscribe: str | None = None
                 ) -> tuple[str, str]:
    """(html, text) of the email for one entry (or a digest entry)."""
    env = _env()
    body = email_html(entry.body_html)
    ctx = {"entry": entry, "site": site, "site_name": site_name(site, entry),
           "unsubscribe": unsubscribe}
    html = env.get_template("email.html").render(body=body, **ctx)
    text = env.get_template("email.txt").render(text=content.to_text(entry.body_html), **ctx)
    return css_inline.inline(html), text


def render_body(entry: Entry, site: SiteConfig) -> str:
    """The post and its link home, for newsletter services that wrap it in their own template."""
    link = (f'<p><a href="{escape(entry.link)}">'
            f'{"Read the rest" if entry.excerpt_only else "Read it"} '
            f"on {escape(site_name(site, entry))}</a></p>")
    return email_html(entry.body_html) + "\n" + link


def render_digest(entries: list[Entry]) -> str:
    return _env().get_template("digest.html").render(entries=entries, excerpt=excerpt)
