"""`syndicate plan`: the whole next run as a dry run, for every source and target at once.

What each poll would find (new, changed, held by the flood breaker, nothing because the feed is
unchanged), and what each target would then be sent, updated or skip, with why (already
delivered, drift, the target broken, a digest collecting it). It fetches the feeds (a
conditional GET, as the poll would) and reads Redis; it writes nothing and sends nothing.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

from .digest import Digests
from .entry import Entry
from .errors import SyndicateError
from .fetch import fetch
from .ledger import State
from .parse import parse_feed
from .poller import flood_check
from .runtime import Runtime
from .store import content_hash


@dataclass
class Step:
    """One thing the next run would do for one target."""

    target: str
    entry: str  # the entry's title
    link: str
    action: str  # send | update | retry | skip | digest
    why: str = ""


@dataclass
class SourceStep:
    source: str
    status: str  # new | held | unchanged | not-modified | baseline | error | webhook-only
    new: list[str] = field(default_factory=list)  # titles
    changed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Plan:
    sources: list[SourceStep] = field(default_factory=list)
    targets: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"sources": [asdict(s) for s in self.sources],
                "targets": [asdict(t) for t in self.targets]}


def _stored_hash(rt: Runtime, entry: Entry) -> tuple[str, str] | None:
    for ref in (entry.link, entry.guid):
        found = rt.store.find(ref) if ref else None
        if found is not None:
            ch = rt.redis.hget(rt.keys.entry(found.id), "ch")
            return found.id, (ch.decode() if isinstance(ch, bytes) else str(ch or ""))
    return None


def make(rt: Runtime, *, now: float | None = None) -> Plan:
    now = time.time() if now is None else now
    plan = Plan()
    targets = rt.config.enabled_targets
    broken = {t.name: why for t in targets
              if (why := _broken(rt, t.name, now))}
    new_entries: list[Entry] = []
    changed_ids: list[tuple[str, Entry]] = []
    for src in rt.config.enabled_sources:
        if not src.url:
            plan.sources.append(SourceStep(src.name, "webhook-only"))
            continue
        state = rt.poller.state(src.name)
        step = SourceStep(src.name, "unchanged")
        plan.sources.append(step)
        try:
            fetched = fetch(src.url, etag=state.get("etag") or None,
                            last_modified=state.get("last_modified") or None,
                            timeout=src.timeout, max_bytes=src.max_bytes,
                            allow_private=src.allow_private)
            if fetched.not_modified or (fetched.body_hash == state.get("body_hash")
                                        and state.get("initialized")):
                step.status = "not-modified"
                continue
            feed = parse_feed(fetched.body, fetched.url, src.name, fetched.content_type)
        except SyndicateError as exc:
            step.status, step.error = "error", str(exc)
            continue
        entries = sorted(feed.entries, key=lambda e: e.published)
        known = rt.store.known(entries)
        first = not state.get("initialized")
        deliver = not first or src.backfill
        history, hold = (flood_check(src, entries, known, float(state.get("newest") or 0))
                         if deliver and not (first and src.backfill) else (set(), ""))
        for entry, is_known in zip(entries, known, strict=True):
            if not is_known:
                if hold and id(entry) in history:
                    step.held.append(entry.title)
                else:
                    step.new.append(entry.title)
                    if deliver:
                        new_entries.append(entry)
                continue
            stored = _stored_hash(rt, entry)
            if stored and stored[1] != content_hash(entry):
                step.changed.append(entry.title)
                changed_ids.append((stored[0], entry))
        step.status = ("baseline" if not deliver else "held" if step.held
                       else "new" if step.new else "unchanged")
    for entry in new_entries:
        for t in targets:
            if Digests.wants(t):
                plan.targets.append(Step(t.name, entry.title, entry.link, "digest",
                                         "collected for the next digest"))
            elif t.name in broken:
                plan.targets.append(Step(t.name, entry.title, entry.link, "skip", broken[t.name]))
            else:
                plan.targets.append(Step(t.name, entry.title, entry.link, "send"))
    for entry_id, entry in changed_ids:
        for t in targets:
            d = rt.ledger.get(entry_id, t.name)
            if d is None or d.state != State.DELIVERED:
                continue
            if rt.dispatcher.target(t.name).on_edit != "update":
                plan.targets.append(Step(t.name, entry.title, entry.link, "skip",
                                         "edited, but on_edit is 'ignore' for this target"))
            else:
                plan.targets.append(Step(t.name, entry.title, entry.link, "update"))
    _due(rt, plan, broken, now)
    return plan


def _broken(rt: Runtime, target: str, now: float) -> str:
    why, recheck = rt.redis.hmget(rt.keys.target(target), "broken", "recheck_at")
    if why and float(recheck or 0) > now:
        text = why.decode() if isinstance(why, bytes) else str(why)
        return "target broken: " + rt.redactor.redact(text)
    return ""


def _due(rt: Runtime, plan: Plan, broken: dict[str, str], now: float) -> None:
    """Records already in the ledger that the run would act on: retries now due."""
    enabled = {t.name for t in rt.config.enabled_targets}
    for d in rt.ledger.all(limit=10000):
        if d.target not in enabled or d.state not in (State.PENDING, State.FAILED):
            continue
        e = rt.store.get(d.entry_id)
        title, link = (e.title, e.link) if e else (d.entry_id, "")
        if d.target in broken:
            plan.targets.append(Step(d.target, title, link, "skip", broken[d.target]))
        elif d.next_at <= now:
            plan.targets.append(Step(d.target, title, link, "retry" if d.attempts else "send",
                                     d.last_error))
