"""Digests: one email per period (a cron `schedule` in a `timezone`) listing every entry that
arrived since the last one, for a newsletter target with `mode = "digest"`.

`fan_out` collects entries per target instead of opening a delivery for each. On every scheduler
tick, `close_due` looks at the latest period boundary: one Lua step claims the period (HSETNX),
moves the collected entries into the digest and opens its ledger record, so two schedulers, a
restart, or a tick repeated within the period still make one digest; nothing collected, no email.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .config import Config, TargetConfig
from .entry import Entry
from .keys import Keys
from .ledger import CREATE_FN, Ledger, member
from .store import EntryStore

PREFIX = "digest-"
FANOUT_GRACE = 30.0

# KEYS: collected, periods, items, record, deliveries, due
# ARGV: period, digest id, target, now, member, due_at
_CLOSE = CREATE_FN + """
if redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2]) == 0 then return -1 end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if #ids == 0 then
  redis.call('HSET', KEYS[2], ARGV[1], 'nothing new')
  return 0
end
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('RPUSH', KEYS[3], id)
end
create_record(KEYS[4], KEYS[5], KEYS[6], ARGV[2], ARGV[3], ARGV[4], ARGV[4], 'pending', ARGV[5],
              ARGV[6])
return #ids
"""


def is_digest(entry_id: str) -> bool:
    return entry_id.startswith(PREFIX)


def period_start(cfg: TargetConfig, now: float) -> float:
    """The latest boundary of the target's schedule at or before `now`."""
    from croniter import croniter  # only digest targets have a schedule

    tz = ZoneInfo(cfg.options.get("timezone") or "UTC")
    it = croniter(cfg.options["schedule"], datetime.fromtimestamp(now, tz))
    return float(it.get_prev(datetime).timestamp())


class Digests:
    def __init__(self, config: Config, store: EntryStore, ledger: Ledger) -> None:
        self.config = config
        self.store = store
        self.ledger = ledger
        self.r = store.r
        self.keys: Keys = store.keys
        self._close = self.r.register_script(_CLOSE)

    @staticmethod
    def wants(cfg: TargetConfig) -> bool:
        return cfg.options.get("mode") == "digest"

    def _k(self, *parts: str) -> str:
        return self.keys.digest(*parts)

    def collect(self, target: str, entry_id: str, now: float) -> None:
        pipe = self.r.pipeline()
        pipe.zadd(self._k("collected", target), {entry_id: now}, nx=True)
        # Periods that ended before the target was set up owe nobody a digest.
        pipe.set(self._k("since", target), repr(now), nx=True)
        pipe.execute()

    def close_due(self, now: float | None = None) -> list[tuple[str, str]]:
        """Close the current period of every digest target; return the digests opened."""
        now = time.time() if now is None else now
        opened = []
        for cfg in self.config.enabled_targets:
            if not self.wants(cfg):
                continue
            since = self.r.get(self._k("since", cfg.name))
            period = period_start(cfg, now)
            if since is None or period < float(since):
                continue
            digest_id = f"{PREFIX}{int(period)}-{cfg.name}"
            n = self._close(
                keys=[self._k("collected", cfg.name), self._k("periods", cfg.name),
                      self._k("items", digest_id), self.keys.delivery(digest_id, cfg.name),
                      self.keys.deliveries, self.keys.due],
                args=[int(period), digest_id, cfg.name, now, member(digest_id, cfg.name),
                      now + FANOUT_GRACE])
            if int(n) > 0:
                opened.append((digest_id, cfg.name))
        return opened

    def entry(self, digest_id: str) -> Entry | None:
        """The digest as an entry the adapters can send like any other."""
        ids = [i.decode() if isinstance(i, bytes) else str(i)
               for i in self.r.lrange(self._k("items", digest_id), 0, -1)]
        entries = sorted(self.store.get_many(ids), key=lambda e: e.published, reverse=True)
        if not entries:
            return None
        from .mail import render_digest  # jinja2 and CSS inlining: loaded by the first digest

        site = self.config.site
        n = len(entries)
        title = entries[0].title if n == 1 else f"{site.title}: {n} new posts"
        return Entry(source="digest", guid=digest_id, link=site.url, title=title,
                     content_html=render_digest(entries), id=digest_id,
                     image=next((e.image for e in entries if e.image), ""),
                     published=max(e.published for e in entries))

    def items(self, digest_id: str) -> list[str]:
        raw: Any = self.r.lrange(self._k("items", digest_id), 0, -1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in raw]
