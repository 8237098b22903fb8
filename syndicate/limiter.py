"""Rate limits shared by every worker: a sliding-window log per (target, limit) in Redis.

A platform's limit is the account's, not one worker's, so the count has to live where all
workers see it. `acquire` is one Lua step: it trims each window, and either takes a slot in all
of them or says how long to wait for the first one to free up.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import redis

from .keys import Keys

# KEYS: the target's cooldown, then one zset per limit
# ARGV: now, then (count, per) for each limit, then a unique member
_ACQUIRE = """
local now = tonumber(ARGV[1])
local wait = 0
local cool = tonumber(redis.call('GET', KEYS[1]) or '0')
if cool > now then return tostring(cool - now) end
for i = 2, #KEYS do
  local count, per = tonumber(ARGV[2 * i - 2]), tonumber(ARGV[2 * i - 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - per)
  if redis.call('ZCARD', KEYS[i]) >= count then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    local w = tonumber(oldest[2]) + per - now
    if w > wait then wait = w end
  end
end
if wait > 0 then return tostring(wait) end
for i = 2, #KEYS do
  local per = tonumber(ARGV[2 * i - 1])
  redis.call('ZADD', KEYS[i], now, ARGV[#ARGV])
  redis.call('PEXPIRE', KEYS[i], math.ceil(per * 1000) + 1000)
end
return '0'
"""


@dataclass(frozen=True)
class RateLimit:
    """At most `count` requests of `scope` per `per` seconds (scope: "write" or "create")."""

    count: int
    per: float
    scope: str = "write"


class Limiter:
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r = r
        self.keys = keys
        self._acquire = r.register_script(_ACQUIRE)

    def acquire(self, target: str, limits: list[RateLimit], *, now: float | None = None) -> float:
        """Take a slot in every limit and return 0, or take none and return seconds to wait
        (also while the target asked everyone to hold off, see `health.TargetHealth`)."""
        now = time.time() if now is None else now
        args: list[float | str] = [now]
        for lim in limits:
            args += [lim.count, lim.per]
        args.append(f"{now}:{uuid.uuid4().hex[:8]}")
        keys = [self.keys.cooldown(target),
                *(self.keys.rate(target, f"{lim.scope}:{lim.count}/{lim.per:g}") for lim in limits)]
        return float(self._acquire(keys=keys, args=args))

    @contextlib.contextmanager
    def lock(self, target: str, name: str, *, ttl: float = 10.0,
             wait: float = 10.0) -> Iterator[None]:
        """A short lock shared by every worker, for a check-then-create on the platform that
        the platform itself does not make atomic (two workers creating one WordPress tag make
        `x` and `x-2`). Held at most `ttl`; waited for at most `wait`, then taken anyway:
        a duplicate is better than a delivery that never goes."""
        key = self.keys.lock(target, name)
        token = uuid.uuid4().hex
        deadline = time.monotonic() + wait
        while not self.r.set(key, token, nx=True, px=int(ttl * 1000)):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        try:
            yield
        finally:
            self.r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then "
                        "return redis.call('DEL', KEYS[1]) end return 0", 1, key, token)
