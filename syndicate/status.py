"""The read views: what went where, as the API, the command line and the status page show it.

Nothing here writes: `deliveries` is `GET /api/deliveries` and `syndicate status --json`,
`rows` the page's table (one cell per target), `source_problems` the sources to look at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .digest import Digests
from .ledger import Delivery
from .urls import safe_url

if TYPE_CHECKING:
    from .runtime import Runtime


def _iso(ts: float) -> str | None:
    if not ts:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def deliveries(rt: Runtime, limit: int = 1000) -> list[dict[str, Any]]:
    """The ledger as `GET /api/deliveries` and `syndicate status --json` show it."""
    records: list[Delivery] = rt.ledger.all(limit=limit)
    held = rt.store.held()
    entries = {e.id: e for e in rt.store.get_many(
        sorted({d.entry_id for d in records} | set(held)))}
    out = []
    for eid, why in held.items():  # no ledger record yet: one row per target, "held"
        e = entries.get(eid)
        for cfg in rt.config.enabled_targets:
            out.append({"entry_id": eid, "title": e.title if e else "",
                        "link": e.link if e else "", "target": cfg.name, "state": "held",
                        "remote_id": "", "remote_url": "", "attempts": 0, "last_error": why,
                        "updated_at": _iso(e.first_seen) if e else None,
                        "next_attempt_at": None, "verified": None, "drift": ""})
    for d in records:
        e = entries.get(d.entry_id)
        out.append({
            "entry_id": d.entry_id,
            "title": e.title if e else "",
            "link": e.link if e else "",
            "target": d.target,
            "state": d.state,
            "remote_id": d.remote_id,
            "remote_url": d.remote_url,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "updated_at": _iso(d.updated_at),
            "next_attempt_at": _iso(d.next_at) if d.state in ("failed", "pending") else None,
            # Read back after sending: true (kept as sent), false (see drift), null (not
            # read: the platform cannot be, or the copy was adopted).
            "verified": {"1": True, "0": False}.get(d.extra.get("verified", "")),
            "drift": d.extra.get("drift", ""),
        })
    # Masked again on the way out: records written before a secret was configured (or by
    # an older version) must not show it either.
    redacted: list[dict[str, Any]] = rt.redactor.redact_any(out)
    return redacted

def source_problems(rt: Runtime) -> list[dict[str, Any]]:
    """Sources whose last poll failed or left entries out, with why (status, the page)."""
    out = []
    for src in rt.config.enabled_sources:
        state = rt.poller.state(src.name)
        error, skipped = state.get("last_error", ""), state.get("skipped", "")
        if error or skipped:
            out.append({"source": src.name, "error": rt.redactor.redact(error),
                        "skipped": [rt.redactor.redact(x) for x in skipped.splitlines()]})
    return out


@dataclass
class Cell:
    state: str  # delivered | drift | pending | sending | waiting | unknown | dead | held | digest | none
    detail: str = ""
    url: str = ""
    when: str = ""


@dataclass
class Row:
    entry_id: str
    title: str
    link: str
    source: str
    published: str
    held: str = ""
    cells: dict[str, Cell] = field(default_factory=dict)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC") if ts else ""


def cell(d: Delivery | None, *, digest: bool, now: float) -> Cell:
    if d is None:
        return Cell("digest" if digest else "none")
    if d.state == "delivered" and d.extra.get("drift"):
        return Cell("drift", url=d.remote_url, when=_when(d.updated_at),
                    detail="the platform changed the copy: " + d.extra["drift"])
    if d.state == "delivered":
        return Cell("delivered", url=d.remote_url, when=_when(d.updated_at))
    if d.state in ("failed", "pending") and d.next_at > now + 1:
        return Cell("waiting", detail=d.last_error, when=_when(d.next_at))
    if d.state == "failed":
        return Cell("pending", detail=d.last_error)
    return Cell(d.state, detail=d.last_error, when=_when(d.updated_at))


def rows(rt: Runtime, *, state: str = "", target: str = "", limit: int = 100) -> list[Row]:
    targets = [t for t in rt.config.enabled_targets]
    entries = rt.store.latest(limit)
    held = rt.store.held()
    for eid in held:
        if eid not in {e.id for e in entries}:
            e = rt.store.get(eid)
            if e:
                entries.insert(0, e)
    pipe = rt.redis.pipeline(transaction=False)
    for e in entries:
        for t in targets:
            pipe.hgetall(rt.keys.delivery(e.id, t.name))
    answers = iter(pipe.execute())
    now = time.time()
    out = []
    for e in entries:
        row = Row(e.id, e.title, e.link, e.source, _when(e.published), held=held.get(e.id, ""))
        for t in targets:
            raw = next(answers)
            row.cells[t.name] = Cell("held", detail=row.held) if row.held else cell(
                Delivery.from_hash(raw) if raw else None, digest=Digests.wants(t), now=now)
        if state and not any(c.state == state for name, c in row.cells.items()
                             if not target or name == target):
            continue
        if target and not state and row.cells.get(target, Cell("none")).state == "none":
            continue
        for c in row.cells.values():
            c.detail = rt.redactor.redact(c.detail)
            c.url = safe_url(c.url)
        row.link = safe_url(row.link)
        out.append(row)
    return out
