"""`syndicate preview`: what each target would be sent for one entry, sending nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .entry import Entry
from .errors import TransientError
from .mail import render_email
from .runtime import Runtime
from .targets import Attempt


@dataclass
class Preview:
    target: str
    kind: str
    text: str
    note: str = ""


def previews(rt: Runtime, entry: Entry, target: str | None = None) -> list[Preview]:
    note = ""
    try:
        entry = rt.dispatcher.fulltext.complete(entry)
    except TransientError as exc:
        note = f"note: a delivery would wait now: {exc.message}"
    out = []
    for cfg in rt.config.targets:
        if target and cfg.name != target:
            continue
        if not target and not cfg.enabled:
            continue
        adapter = rt.dispatcher.target(cfg.name)
        attempt = Attempt(entry_id=entry.id, target=cfg.name, preview=True)
        out.append(Preview(cfg.name, cfg.kind, adapter.preview(entry, attempt), note))
    return out


def write_email_files(rt: Runtime, entry: Entry, target: str, folder: Path) -> list[Path]:
    """The HTML and text an email target would send, as files (to open in a browser)."""
    adapter = rt.dispatcher.target(target)
    unsubscribe = adapter.opts.get("list_unsubscribe") if adapter.is_email else None
    html, text = render_email(rt.dispatcher.fulltext.complete(entry), rt.config.site,
                              unsubscribe=unsubscribe)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{target}-{entry.id}.html", folder / f"{target}-{entry.id}.txt"]
    paths[0].write_text(html, encoding="utf-8")
    paths[1].write_text(text, encoding="utf-8")
    return paths
