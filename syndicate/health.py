"""Target health: whether a target is broken (its credentials refused) and whether it asked
everyone to hold off (`Retry-After`). One owner for both, read by the ledger's claim (inside its
Lua step, through `claim_keys`), written here by the dispatcher and the limiter.

- `target:<name>` (hash): `broken` (why), `since`, `recheck_at`, `credentials` (a digest of the
  credentials it was marked broken with: new ones revive it).
- `rate:<name>:cooldown` (string, with TTL): until when every worker waits.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

import redis

from .keys import Keys

BROKEN_RECHECK = 900.0  # a broken target is tried again (one delivery) after this long

# KEYS: cooldown   ARGV: until, ttl ms. Only ever extends: a shorter answer must not cut a
# longer wait short.
_COOL_DOWN = """
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > c then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end
return 1
"""


def credentials_digest(secrets: Iterable[str]) -> str:
    return hashlib.sha256("\x00".join(secrets).encode()).hexdigest()[:16]


class TargetHealth:
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r = r
        self.keys = keys
        self._cool_down = r.register_script(_COOL_DOWN)

    def claim_keys(self, target: str) -> tuple[str, str]:
        """The keys the ledger's claim reads: health, then cooldown."""
        return self.keys.target(target), self.keys.cooldown(target)

    def mark_broken(self, target: str, why: str, credentials: str,
                    *, now: float | None = None) -> float:
        """Every delivery to `target` waits until the recheck (returned) or new credentials."""
        now = time.time() if now is None else now
        recheck = now + BROKEN_RECHECK
        self.r.hset(self.keys.target(target), mapping={
            "broken": why, "since": repr(now), "recheck_at": repr(recheck),
            "credentials": credentials})
        return recheck

    def clear(self, target: str) -> None:
        self.r.delete(self.keys.target(target))

    def broken_with(self, targets: list[str]) -> dict[str, str]:
        """For the targets marked broken: the credentials digest each was marked with."""
        pipe = self.r.pipeline(transaction=False)
        for name in targets:
            pipe.hget(self.keys.target(name), "credentials")
        return {name: (v.decode() if isinstance(v, bytes) else str(v))
                for name, v in zip(targets, pipe.execute(), strict=True) if v is not None}

    def cool_down(self, target: str, seconds: float, *, now: float | None = None) -> None:
        """The target said `Retry-After`: a rate limit is the account's, so every worker waits,
        not only the delivery that was told."""
        now = time.time() if now is None else now
        self._cool_down(keys=[self.keys.cooldown(target)],
                        args=[now + seconds, int(seconds * 1000) + 1000])
