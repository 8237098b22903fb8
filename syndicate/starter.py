"""`syndicate init`: from a blog's feed URL and a first target to a config that does something.

It reads the feed first (so a typo shows now, not in a log five minutes later), then writes the
config with every secret as a `${VARIABLE}` and an `.env` beside the command that holds them:
the webhook secret and admin password freshly generated, the target's own left to fill in.
"""

from __future__ import annotations

import base64
import ipaddress
import re
import secrets
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .config import load_env
from .errors import FetchError
from .fetch import fetch
from .parse import ParsedFeed, parse_feed

# What each first target needs, as (key, value) lines; values in ${...} go to the .env file.
TARGETS: dict[str, list[tuple[str, str]]] = {
    "webhook": [("url", '"http://127.0.0.1:9000/syndicate"'),
                ("secret", '"${SYNDICATE_OUTBOUND_SECRET}"')],
    "smtp": [("host", '"127.0.0.1"'), ("port", "8025"), ("security", '"none"'),
             ("from", '"${SYNDICATE_MAIL_FROM}"'), ("to", '["${SYNDICATE_MAIL_TO}"]')],
    "devto": [("api_key", '"${DEVTO_API_KEY}"'), ("published", "false")],
    "medium": [("token", '"${MEDIUM_TOKEN}"')],
    "hashnode": [("token", '"${HASHNODE_TOKEN}"'),
                 ("publication_id", '"${HASHNODE_PUBLICATION_ID}"')],
    "ghost": [("admin_url", '"${GHOST_ADMIN_URL}"'), ("admin_key", '"${GHOST_ADMIN_KEY}"')],
    "wordpress": [("base_url", '"${WORDPRESS_URL}"'), ("username", '"${WORDPRESS_USER}"'),
                  ("app_password", '"${WORDPRESS_APP_PASSWORD}"')],
    "buttondown": [("api_key", '"${BUTTONDOWN_API_KEY}"')],
    "mastodon": [("base_url", '"${MASTODON_URL}"'), ("token", '"${MASTODON_TOKEN}"')],
    "bluesky": [("handle", '"${BLUESKY_HANDLE}"'), ("app_password", '"${BLUESKY_APP_PASSWORD}"')],
}
_VAR = re.compile(r"\$\{([A-Z_]+)\}")


@dataclass
class Checked:
    url: str
    feed: ParsedFeed
    private: bool  # the feed is on this machine or its network: the source must allow it
    notes: list[str] = field(default_factory=list)


def _is_private(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return any(not ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_global for i in infos)


def check_feed(url: str) -> Checked:
    """Fetch and parse the feed the person named. A feed on their own machine or network is
    theirs to name: it is allowed (and the config says so)."""
    private = _is_private(url)
    fetched = fetch(url, allow_private=private, timeout=15)
    return Checked(url=fetched.url, feed=parse_feed(fetched.body, fetched.url, "feed",
                                                    fetched.content_type), private=private)


def source_name(url: str) -> str:
    """`synthetic-mind` for synthetic-mind.blogspot.com; `blog` for an address."""
    host = (urlsplit(url).hostname or "").removeprefix("www.")
    try:
        ipaddress.ip_address(host)
        return "blog"
    except ValueError:
        pass
    name = re.sub(r"[^a-z0-9]+", "-", host.split(".")[0].lower()).strip("-")
    return name or "blog"


def render_config(checked: Checked, target: str,
                  overrides: dict[str, str] | None = None) -> str:
    feed = checked.feed
    lines = [
        "# Written by `syndicate init`. Secrets stay in the environment (see .env), never here.",
        "",
        "[site]",
        f"title = {_toml(feed.title)}",
        'url = "${SYNDICATE_SITE_URL:-http://127.0.0.1:8080/}"  # where the merged feed is '
        "served: your domain in production",
        "",
        "[admin]  # the status page at /, on when the variable is set (12+ characters)",
        'password = "${SYNDICATE_ADMIN_PASSWORD:-}"',
        "",
        "[webhook]  # POST /hooks/publish, signed: `syndicate hook SOURCE` sends one",
        'secret = "${SYNDICATE_WEBHOOK_SECRET:-}"',
        "",
        "[[sources]]",
        f"name = {_toml(source_name(checked.url))}",
        f"url = {_toml(checked.url)}",
        'poll_interval = "5m"',
    ]
    if checked.private:
        lines.append("allow_private = true                  # the feed is on your own machine or "
                     "network")
    lines += ["", "[[targets]]", f'name = "{target}"', f'kind = "{target}"']
    chosen = dict(TARGETS[target])
    for key, value in (overrides or {}).items():
        chosen[key] = value if re.fullmatch(r"-?\d+|true|false|\[.*\]", value) else _toml(value)
    lines += [f"{k} = {v}" for k, v in chosen.items()]
    return "\n".join(lines) + "\n"


def render_env(config_text: str) -> str:
    """The `.env` the config's variables come from: our own secrets generated, the platform's
    left for the person to paste."""
    generated = {
        "SYNDICATE_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "SYNDICATE_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        "SYNDICATE_OUTBOUND_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    names = ["SYNDICATE_WEBHOOK_SECRET", "SYNDICATE_ADMIN_PASSWORD",
             *_VAR.findall(config_text)]
    lines = ["# Read by `syndicate` (from the directory you run it in) and by docker compose.",
             "# Keep this file out of version control."]
    for name in dict.fromkeys(names):
        lines.append(f"{name}={generated.get(name, '')}")
    return "\n".join(lines) + "\n"


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


__all__ = ["TARGETS", "Checked", "FetchError", "check_feed", "load_env", "render_config",
           "render_env", "source_name"]
