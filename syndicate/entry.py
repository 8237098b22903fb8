"""The entry: one post, however many feeds carry it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .urls import safe_url


@dataclass
class Entry:
    """A post as syndicate keeps it. `id` is syndicate's own; everything else comes from the feed."""

    source: str
    guid: str
    link: str
    title: str
    content_html: str = ""
    summary: str = ""
    published: float = 0.0  # unix seconds
    updated: float = 0.0
    author: str = ""
    categories: list[str] = field(default_factory=list)
    image: str = ""
    post_id: str = ""  # the platform's own id, e.g. "blogger:4410958261731650029"
    fingerprint: str = ""  # of the content, to recognise the same post elsewhere
    excerpt_only: bool = False  # the feed carried a summary, not the body
    id: str = ""
    first_seen: float = 0.0
    sources: list[str] = field(default_factory=list)

    @property
    def body_html(self) -> str:
        """What to publish: the full body, else the excerpt the feed gave."""
        return self.content_html or self.summary

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Entry:
        data: dict[str, Any] = json.loads(text)
        known = cls.__dataclass_fields__
        entry = cls(**{k: v for k, v in data.items() if k in known})
        # Checked again on the way out of the store: a record kept by an older version, or
        # written by anything but the parser, must not carry a script link to a reader either.
        entry.link = safe_url(entry.link)
        entry.image = safe_url(entry.image)
        return entry
