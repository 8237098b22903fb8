"""Jinja2 rendering of what people read: emails now, pages later.

Default templates ship in the package; a file of the same name in `config/templates/` (or
`$SYNDICATE_TEMPLATES`) overrides it, so an author can restyle without forking.
"""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import urlsplit

import jinja2

from . import content
from .config import SiteConfig
from .entry import Entry

TEMPLATES_ENV = "SYNDICATE_TEMPLATES"


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


def render_email(entry: Entry, site: SiteConfig, *, unsubscribe: str | None = None
                 ) -> tuple[str, str]:
    """(html, text) of the email for one entry."""
    env = _env()
    body = entry.body_html
    ctx = {"entry": entry, "site": site, "site_name": site_name(site, entry),
           "unsubscribe": unsubscribe}
    html = env.get_template("email.html").render(body=body, **ctx)
    text = env.get_template("email.txt").render(text=content.to_text(body), **ctx)
    return html, text
