"""Polling a source: conditional fetch, parse only when the bytes changed, store, hand over.

The first poll of a source records what is there as already published (nothing is syndicated)
unless the source says `backfill = true`. After that, each entry the store has never seen goes
to the outbox and from there to the dispatcher.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
import requests

from .config import Config, SourceConfig
from .entry import Entry
from .errors import FeedError, FetchError, UnknownSourceError
from .fetch import fetch
from .keys import Keys
from .metrics import SEP
from .parse import parse_feed
from .session import Session
from .store import EntryStore

log = logging.getLogger("syndicate.poll")

FRESH_SLACK = 300.0  # a fresh post may be dated a few minutes before the newest one known

# KEYS: lock, source state   ARGV: token, lock ms
# Take the source's poll lock and read its state (validators, body hash) in one step.
_BEGIN = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
return redis.call('HGETALL', KEYS[2])
"""

# KEYS: lock, source state, metrics
# ARGV: token, add to failures, n fields, (field, value) x n, (counter, amount) ...
# Record the poll, count it, and release the lock only if it is still ours (a slow poll may
# have outlived it), in one step.
_END = """
local n = tonumber(ARGV[3])
for i = 4, 3 + 2 * n, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if ARGV[2] ~= '0' then redis.call('HINCRBY', KEYS[2], 'failures', ARGV[2]) end
for i = 4 + 2 * n, #ARGV, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""


# KEYS: the source's next due time (ms, Redis clock)   ARGV: interval ms
# Claimed only once its due time has come; the claim moves it a whole interval on. An earlier
# version let a key expire 0.5 s early, so two schedulers could poll twice in one interval.
_CLAIM_DUE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due > now then return 0 end
redis.call('SET', KEYS[1], now + tonumber(ARGV[1]), 'PX', 2 * tonumber(ARGV[1]) + 60000)
return 1
"""


def flood_check(src: SourceConfig, entries: list[Entry], known: list[bool],
                newest: float) -> tuple[set[int], str]:
    """The flood breaker's decision for one poll: the entries it would hold (by `id()`), and
    why, or an empty reason when none is held. Pure, so `plan` asks the same question.

    A post dated after the newest the source already had is fresh: a crash that delayed a poll,
    or a busy week, brings several of those, and none is held. What a rewrite, migration or guid
    change brings back is history, dated before."""
    history = {id(e) for e, k in zip(entries, known, strict=True)
               if not k and not (newest and e.published > newest - FRESH_SLACK)}
    if len(history) <= src.flood_limit:
        return history, ""
    return history, (f"flood breaker: {len(history)} old entries came back as new in one poll "
                     f"of {src.name} (flood_limit = {src.flood_limit}); approve or discard them")


@dataclass
class PollResult:
    source: str
    status: str  # new | held | unchanged | not-modified | baseline | busy | error
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    seen: int = 0
    error: str = ""
    skipped: list[str] = field(default_factory=list)  # entries left out, one reason each
    parsed: bool = False
    code: int | None = None  # the HTTP status of the fetch
    feed_changed: bool = False  # an entry was added to or changed in the merged feed
    about: dict[str, tuple[str, str]] = field(default_factory=dict)  # new id -> (title, link)


@dataclass
class _Outcome:
    """A poll's result and what to record of it in the source's state."""

    result: PollResult
    now: float
    fields: dict[str, Any]
    failed: bool = False


def _s(v: bytes | str | None) -> str:
    return v.decode() if isinstance(v, bytes) else (v or "")


class Poller:
    def __init__(self, config: Config, r: redis.Redis, keys: Keys, store: EntryStore,
                 session: requests.Session | None = None) -> None:
        self.config = config
        self.r = r
        self.keys = keys
        self.store = store
        self.session = session or Session()
        self._begin = r.register_script(_BEGIN)
        self._end = r.register_script(_END)
        self._claim_due = r.register_script(_CLAIM_DUE)

    def source(self, name: str) -> SourceConfig:
        src = self.config.source(name)
        if src is None or not src.enabled:
            raise UnknownSourceError(f"no enabled source named {name!r}")
        return src

    def state(self, name: str) -> dict[str, str]:
        return {_s(k): _s(v) for k, v in self.r.hgetall(self.keys.source(name)).items()}

    def poll(self, name: str) -> PollResult:
        src = self.source(name)
        token = uuid.uuid4().hex
        lock = self.keys.poll_lock(name)
        raw = self._begin(keys=[lock, self.keys.source(name)],
                          args=[token, int((src.timeout * 3 + 10) * 1000)])
        if raw is None:
            return PollResult(name, "busy")
        state = {_s(k): _s(v) for k, v in zip(raw[::2], raw[1::2], strict=True)}
        outcome: _Outcome | None = None
        try:
            try:
                outcome = self._poll(src, state)
            except Exception as exc:  # a bug or an input nobody foresaw: recorded on the source
                log.exception("source %s: poll failed", name)
                outcome = self._failed(src, time.time(),
                                       f"poll failed: {exc.__class__.__name__}: {exc}", None)
        finally:
            args: list[Any] = [token, 0, 0]
            if outcome is not None:
                result = outcome.result
                fields = {"last_poll": repr(outcome.now), "url": src.url, **outcome.fields}
                args = [token, int(outcome.failed), len(fields)]
                for k, v in fields.items():
                    args += [k, v]
                for metric, labels, n in (
                        ("polls", (name, result.status), 1),
                        ("fetch", (name, str(result.code or "error")), 1),
                        ("entries", (name,), len(result.new) + len(result.held)),
                        ("skipped", (name,), len(result.skipped)),
                        ("parses", (name,), int(result.parsed))):
                    args += [SEP.join((metric, *labels)), n]
            self._end(keys=[lock, self.keys.source(name), self.keys.metrics], args=args)
        return outcome.result

    def _poll(self, src: SourceConfig, state: dict[str, str]) -> _Outcome:
        now = time.time()
        try:
            fetched = fetch(src.url, etag=state.get("etag") or None,
                            last_modified=state.get("last_modified") or None,
                            timeout=src.timeout, max_bytes=src.max_bytes, session=self.session,
                            allow_private=src.allow_private)
        except FetchError as exc:
            return self._failed(src, now, str(exc), exc.status)
        ok = {"last_error": "", "failures": 0}
        if fetched.not_modified:
            return _Outcome(PollResult(src.name, "not-modified", code=304), now,
                            {**ok, "last_status": "304"})
        body_hash = fetched.body_hash
        if body_hash == state.get("body_hash") and state.get("initialized"):
            # The server ignored our validators but sent the same bytes: nothing to parse.
            return _Outcome(PollResult(src.name, "unchanged", code=200), now, {
                **ok, "last_status": "200", "etag": fetched.etag or "",
                "last_modified": fetched.last_modified or ""})
        try:
            feed = parse_feed(fetched.body, fetched.url, src.name, fetched.content_type)
        except FeedError as exc:
            return self._failed(src, now, str(exc), 200)
        except Exception as exc:  # the parser's own failure on odd bytes is the feed's fault
            log.exception("source %s: the feed could not be parsed", src.name)
            return self._failed(src, now, f"{fetched.url}: cannot parse: "
                                f"{exc.__class__.__name__}: {exc}", 200)
        skipped = list(feed.skipped)
        first = not state.get("initialized")
        deliver = not first or src.backfill
        result = PollResult(src.name, "new" if deliver else "baseline", seen=len(feed.entries),
                            parsed=True, code=200)
        entries = sorted(feed.entries, key=lambda e: e.published)
        hold = ""
        history: set[int] = set()  # entries the breaker may hold, by id()
        newest = float(state.get("newest") or 0)
        if deliver and not (first and src.backfill):
            history, hold = flood_check(src, entries, self.store.known(entries), newest)
            if hold:
                result.status = "held"
                log.warning("source %s: %s", src.name, hold)
        # Oldest first, so that targets receive posts in the order they were written.
        stored = self.store.upsert_many(
            [(e, deliver, hold if id(e) in history else "") for e in entries], now=now)
        for entry, got in zip(entries, stored, strict=True):
            if isinstance(got, redis.ConnectionError):
                raise got  # the store is gone, not the entry: the whole poll is retried
            if isinstance(got, Exception):
                skipped.append(f"{(entry.guid or entry.link)[:120]}: {got.__class__.__name__}: "
                               f"{str(got)[:200]}")
                continue
            entry_id, status = got
            result.feed_changed |= status in ("new", "changed")
            if status == "new" and hold and id(entry) in history:
                result.held.append(entry_id)
            elif status == "new":
                result.new.append(entry_id)
                result.about[entry_id] = (entry.title, entry.link)
            elif status == "changed":
                result.changed.append(entry_id)
        fields = {
            **ok, "last_status": "200",
            "etag": fetched.etag or "", "last_modified": fetched.last_modified or "",
            "body_hash": body_hash, "initialized": state.get("initialized") or repr(now),
            "site_link": feed.link, "title": feed.title, "hub": feed.hub or "",
            "self_url": feed.self_url or "", "last_new": len(result.new) if deliver else 0,
            "newest": repr(max([newest, *(e.published for e in entries)])),
            # The entries left out of this poll, one line each: shown by status and the page.
            "skipped": "\n".join(skipped)[:4000],
        }
        result.skipped = skipped
        for why in skipped:
            log.warning("source %s: entry skipped: %s", src.name, why, extra={
                "event": "entry.skipped", "source": src.name})
        if deliver and result.new:
            log.info("source %s: %d new entries", src.name, len(result.new))
        elif not deliver:
            log.info("source %s: first poll, %d entries recorded as already published",
                     src.name, len(result.new))
            result.new = []
        if not result.new and not result.held and result.status == "new":
            result.status = "unchanged"
        return _Outcome(result, now, fields)

    def _failed(self, src: SourceConfig, now: float, error: str,
                status: int | None) -> _Outcome:
        log.warning("source %s: %s", src.name, error)
        return _Outcome(PollResult(src.name, "error", error=error, code=status), now,
                        {"last_status": str(status or "error"), "last_error": error},
                        failed=True)

    def claim_due(self, src: SourceConfig) -> bool:
        """True once per `poll_interval` across every scheduler: the one that should enqueue.

        The source's next due time is kept in Redis and read on Redis's own clock, so however
        many schedulers tick, on whatever hosts, two claims are at least an interval apart."""
        ms = max(int(src.poll_interval * 1000), 1)
        return bool(self._claim_due(keys=[self.keys.poll_due(src.name)], args=[ms]))

    def match(self, url: str) -> SourceConfig | None:
        """The source a webhook's URL names: its feed URL, or a post on the same site."""
        from .identity import normalize_url

        want = normalize_url(url)
        best: tuple[int, SourceConfig] | None = None
        for src in self.config.polled_sources:
            if normalize_url(src.url) == want:
                return src
            site = normalize_url(self.state(src.name).get("site_link") or "")
            for prefix in (site, normalize_url(src.url.rsplit("/feed", 1)[0])):
                if prefix and (want == prefix or want.startswith(prefix.rstrip("/") + "/")) and (
                        best is None or len(prefix) > best[0]):
                    best = (len(prefix), src)
        return best[1] if best else None
