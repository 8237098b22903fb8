"""The delivery ledger: one record per (entry, target), the single truth about what was sent.

States: `pending -> sending -> delivered`, with `failed` (will retry at `next_at`), `dead` (gave
up, or the target refused for good), `unknown` (the target may or may not have it: a person
settles it with `syndicate resolve`) and `held` (waiting for approval).

Every transition is one Lua script, so a check and a write are one step:
- `claim` hands the record to one worker with a lease and a fencing number. A second claim while
  the lease runs is refused; after the lease runs out (the worker died), it is taken over.
- `finish` only succeeds for the current fence: a worker that lost its lease can never mark a
  record delivered over the head of the one that took it over.
- `on_wire` records that the request is about to leave. A worker that dies after that point leaves
  an ambiguous outcome: a target that cannot check (no lookup, no idempotency key) goes `unknown`
  instead of being sent twice.

The `due` sorted set holds each record that needs action, scored by when: the reconciler reads
it to re-enqueue what a lost message, a dead worker or a retry delay left behind. Celery messages
are only wake-up calls; the ledger decides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import redis

from .keys import Keys
from .redact import NONE, Redactor


class State(StrEnum):
    """A delivery record's state (the strings the Lua scripts and the API use)."""

    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DEAD = "dead"
    UNKNOWN = "unknown"
    HELD = "held"


STATES: tuple[State, ...] = tuple(State)


class ClaimOutcome(StrEnum):
    """What a claim answered, besides a record's final state (`delivered`, `dead`, `unknown`)."""

    CLAIMED = "claimed"  # this caller owns the record now (it holds the fence)
    EARLY = "early"  # not due yet
    BUSY = "busy"  # another worker's lease runs
    BROKEN = "broken"  # the target is marked broken and not due for a recheck
    COOLING = "cooling"  # the target asked everyone to hold off (Retry-After)
    MISSING = "missing"  # no such record
FINAL: frozenset[str] = frozenset({State.DELIVERED, State.DEAD, State.UNKNOWN})

# What a person may do to a delivery, and from which states: the one table the command line
# and the status page both follow (syndicate/actions.py). `sending` is never among them: a
# worker holds that record, and its claim decides.
TRANSITIONS: dict[str, tuple[frozenset[str], State]] = {
    # send it (again): it failed, gave up, or may not have arrived
    "retry": (frozenset({State.FAILED, State.DEAD, State.UNKNOWN}), State.PENDING),
    # it is there (at a URL the person gives): nothing more to send
    "resolve": (frozenset({State.UNKNOWN, State.DEAD, State.FAILED, State.PENDING}),
                State.DELIVERED),
    # never send it to this target
    "give_up": (frozenset({State.UNKNOWN, State.FAILED, State.PENDING}), State.DEAD),
}

# The one place a ledger record is laid out; other scripts (digests) include it.
CREATE_FN = """
local function create_record(rec, deliveries, due, entry, target, now, next_at, state, member,
                             due_at)
  if redis.call('EXISTS', rec) == 1 then return 0 end
  redis.call('HSET', rec, 'entry_id', entry, 'target', target, 'state', state,
             'attempts', 0, 'fence', 0, 'next_at', next_at, 'created_at', now,
             'updated_at', now)
  redis.call('ZADD', deliveries, now, member)
  if state == 'pending' then redis.call('ZADD', due, due_at, member) end
  return 1
end
"""

# KEYS: record, deliveries, due   ARGV: entry, target, now, next_at, state, member, due_at
_CREATE = CREATE_FN + """
return create_record(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
                     ARGV[6], ARGV[7])
"""

# KEYS: deliveries, due, record x n   ARGV: entry, now, (target, next_at, member, due_at) x n
# A new entry's records for every target, in one step.
_CREATE_MANY = CREATE_FN + """
local out = {}
for i = 3, #KEYS do
  local a = 3 + (i - 3) * 4
  out[#out + 1] = create_record(KEYS[i], KEYS[1], KEYS[2], ARGV[1], ARGV[a], ARGV[2],
                                ARGV[a + 1], 'pending', ARGV[a + 2], ARGV[a + 3])
end
return out
"""

# KEYS: record, due, target health, target cooldown, entry
# ARGV: now, lease seconds, member, safe_to_resend
# A successful claim also returns the entry's data and whether the target was marked broken:
# the worker needs both next, so they come in the same round trip. A target marked broken and
# not yet due for a recheck is not claimed at all; nor is one that asked everyone to hold off
# (Retry-After): the record simply becomes due when the wait is over.
_CLAIM = """
local f = redis.call('HMGET', KEYS[1], 'state', 'next_at', 'lease_until', 'wire')
local st, now = f[1], tonumber(ARGV[1])
if not st then return {'missing'} end
local h = redis.call('HMGET', KEYS[3], 'broken', 'recheck_at', 'credentials')
if h[1] and (st == 'pending' or st == 'failed' or st == 'sending')
    and (tonumber(h[2]) or 0) > now then
  return {'broken', h[1], h[2], h[3] or ''}
end
if st == 'pending' or st == 'failed' then
  if (tonumber(f[2]) or 0) > now then return {'early', f[2]} end
elseif st == 'sending' then
  if (tonumber(f[3]) or 0) > now then return {'busy', f[3]} end
  if f[4] == '1' and ARGV[4] ~= '1' then
    redis.call('HSET', KEYS[1], 'state', 'unknown', 'updated_at', ARGV[1], 'last_error',
      'the worker stopped while sending; the target may or may not have the post')
    redis.call('ZREM', KEYS[2], ARGV[3])
    return {'unknown'}
  end
else
  return {st}
end
local cool = tonumber(redis.call('GET', KEYS[4]) or '0')
if cool > now and (st == 'pending' or st == 'failed') then
  redis.call('HSET', KEYS[1], 'next_at', cool)
  redis.call('ZADD', KEYS[2], cool, ARGV[3])
  return {'cooling', tostring(cool)}
end
local fence = redis.call('HINCRBY', KEYS[1], 'fence', 1)
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local lease = now + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'state', 'sending', 'lease_until', lease, 'wire', 0,
           'updated_at', ARGV[1])
redis.call('ZADD', KEYS[2], lease, ARGV[3])
local more = redis.call('HMGET', KEYS[1], 'op', 'remote_id')
local data = KEYS[5] and redis.call('HGET', KEYS[5], 'data') or false
return {'claimed', fence, attempts, more[1] or '', more[2] or '', data or '', h[1] or ''}
"""

# KEYS: record   ARGV: fence, field, value, ...
# A multi-step target records each step's result before the next, under the current claim only.
_CHECKPOINT = """
local f = redis.call('HMGET', KEYS[1], 'state', 'fence')
if f[1] ~= 'sending' or f[2] ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], 'step:' .. ARGV[i], ARGV[i + 1]) end
return 1
"""

# KEYS: record   ARGV: fence
_ON_WIRE = """
local f = redis.call('HMGET', KEYS[1], 'state', 'fence')
if f[1] ~= 'sending' or f[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'wire', 1)
return 1
"""

# KEYS: record, due, metrics
# ARGV: fence, state, now, next_at, member, refund, n counters, (counter, amount) x n,
#       field, value, ...
# `refund` = 1 gives the attempt back (a wait imposed by a rate limit or a broken target is not
# the entry's failure). A record edited while it was being sent goes back for an update. The
# attempt's metrics are counted in the same step, whether or not the claim still held.
_FINISH = """
local n = tonumber(ARGV[7])
for i = 8, 7 + 2 * n, 2 do redis.call('HINCRBYFLOAT', KEYS[3], ARGV[i], ARGV[i + 1]) end
local f = redis.call('HMGET', KEYS[1], 'state', 'fence', 'dirty')
if f[1] ~= 'sending' or f[2] ~= ARGV[1] then return 0 end
local state, next_at = ARGV[2], ARGV[4]
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3], 'lease_until', 0)
for i = 8 + 2 * n, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[6] == '1' then redis.call('HINCRBY', KEYS[1], 'attempts', -1) end
if state == 'delivered' and f[3] == '1' then
  state, next_at = 'pending', ARGV[3]
  redis.call('HSET', KEYS[1], 'op', 'update', 'dirty', 0, 'attempts', 0)
end
redis.call('HSET', KEYS[1], 'state', state, 'next_at', next_at)
if state == 'failed' or state == 'pending' then
  redis.call('ZADD', KEYS[2], next_at, ARGV[5])
else
  redis.call('ZREM', KEYS[2], ARGV[5])
end
return 1
"""

# KEYS: record, due   ARGV: now, member
# The entry changed: a delivered record goes back for an in-place update; one being sent is
# marked dirty (FINISH sends it back); one not yet sent will send the new text anyway.
_EDITED = """
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'delivered' then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'op', 'update', 'attempts', 0,
             'next_at', ARGV[1], 'updated_at', ARGV[1])
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
  return 'queued'
elseif st == 'sending' then
  redis.call('HSET', KEYS[1], 'dirty', 1)
  return 'dirty'
end
return st or 'missing'
"""

# KEYS: record, due   ARGV: from-states (comma list), state, now, member, next_at, field, value...
_SET_STATE = """
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return 'missing' end
local ok = false
for s in string.gmatch(ARGV[1], '[^,]+') do if s == st then ok = true end end
if not ok then return st end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'updated_at', ARGV[3], 'next_at', ARGV[5])
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[2] == 'pending' or ARGV[2] == 'failed' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[4])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
end
return 'ok'
"""

# KEYS: due   ARGV: now, limit, push (seconds)
# Takes the records due now and pushes their score forward, so a backlog is not enqueued again
# on every tick while its messages wait in the queue.
_TAKE_DUE = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local later = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, m in ipairs(items) do redis.call('ZADD', KEYS[1], 'XX', later, m) end
return items
"""


# KEYS: record, due   ARGV: now, member
# A waiting record (pending or failed) becomes due now; any other state is left alone.
_WAKE = """
local st = redis.call('HGET', KEYS[1], 'state')
if st ~= 'pending' and st ~= 'failed' then return 0 end
redis.call('HSET', KEYS[1], 'next_at', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return 1
"""


@dataclass
class Delivery:
    entry_id: str
    target: str
    state: str
    attempts: int = 0
    fence: int = 0
    next_at: float = 0.0
    remote_id: str = ""
    remote_url: str = ""
    last_error: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_hash(cls, h: dict[bytes | str, bytes | str]) -> Delivery:
        d = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes)
                                                           else v) for k, v in h.items()}
        known = {"entry_id", "target", "state", "attempts", "fence", "next_at", "remote_id",
                 "remote_url", "last_error", "created_at", "updated_at"}
        return cls(
            entry_id=d.get("entry_id", ""),
            target=d.get("target", ""),
            state=d.get("state", ""),
            attempts=int(d.get("attempts") or 0),
            fence=int(d.get("fence") or 0),
            next_at=float(d.get("next_at") or 0),
            remote_id=d.get("remote_id", ""),
            remote_url=d.get("remote_url", ""),
            last_error=d.get("last_error", ""),
            created_at=float(d.get("created_at") or 0),
            updated_at=float(d.get("updated_at") or 0),
            extra={k: v for k, v in d.items() if k not in known and k not in
                   ("lease_until", "wire", "dirty")},
        )


@dataclass(frozen=True)
class Claim:
    """The result of `Ledger.claim`: `fence` is set only when this caller now owns the record."""

    outcome: str  # claimed | early | busy | broken | cooling | unknown | missing | <a final state>
    fence: int = 0
    attempts: int = 0
    when: float = 0.0
    op: str = ""  # "update": the target has the post; send the edit in place
    remote_id: str = ""
    data: str = ""  # the entry's stored JSON, when the caller asked for it
    broken: str = ""  # why the target is marked broken (claimed: this attempt is its recheck)
    credentials: str = ""  # the credentials it was marked broken with

    @property
    def ok(self) -> bool:
        return self.outcome == ClaimOutcome.CLAIMED


def member(entry_id: str, target: str) -> str:
    return f"{entry_id}:{target}"


def split_member(m: str | bytes) -> tuple[str, str]:
    text = m.decode() if isinstance(m, bytes) else m
    entry_id, _, target = text.partition(":")
    return entry_id, target


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class Ledger:
    def __init__(self, r: redis.Redis, keys: Keys, redactor: Redactor = NONE) -> None:
        self.r = r
        self.keys = keys
        # Every text a record keeps may quote a platform's answer, which may quote our secrets.
        self.redactor = redactor
        self._create = r.register_script(_CREATE)
        self._create_many = r.register_script(_CREATE_MANY)
        self._claim = r.register_script(_CLAIM)
        self._on_wire = r.register_script(_ON_WIRE)
        self._finish = r.register_script(_FINISH)
        self._set_state = r.register_script(_SET_STATE)
        self._edited = r.register_script(_EDITED)
        self._checkpoint = r.register_script(_CHECKPOINT)
        self._take_due = r.register_script(_TAKE_DUE)
        self._wake = r.register_script(_WAKE)

    def _rk(self, entry_id: str, target: str) -> str:
        return self.keys.delivery(entry_id, target)

    def create(self, entry_id: str, target: str, *, not_before: float | None = None,
               due_at: float | None = None, state: State = State.PENDING,
               now: float | None = None) -> bool:
        """Open the record (once: a second call changes nothing). Returns True if it was new.

        `not_before`: no attempt before then. `due_at`: when the reconciler should look at it
        (later than `not_before` when the caller wakes a worker itself)."""
        now = time.time() if now is None else now
        not_before = now if not_before is None else not_before
        return bool(self._create(
            keys=[self._rk(entry_id, target), self.keys.deliveries, self.keys.due],
            args=[entry_id, target, now, not_before, state, member(entry_id, target),
                  not_before if due_at is None else due_at],
        ))

    def create_many(self, entry_id: str, opens: Sequence[tuple[str, float, float]], *,
                    now: float | None = None) -> list[bool]:
        """`create` for several targets in one round trip: (target, not_before, due_at) each."""
        return self.create_for([(entry_id, opens)], now=now)[0]

    def create_for(self, batch: Sequence[tuple[str, Sequence[tuple[str, float, float]]]], *,
                   now: float | None = None) -> list[list[bool]]:
        """`create_many` for several entries (a poll's new ones) in one pipeline."""
        now = time.time() if now is None else now
        todo = [(entry_id, opens) for entry_id, opens in batch if opens]
        if not todo:
            return [[] for _ in batch]
        pipe = self.r.pipeline(transaction=False)
        for entry_id, opens in todo:
            args: list[Any] = [entry_id, now]
            for target, not_before, due_at in opens:
                args += [target, not_before, member(entry_id, target), due_at]
            self._create_many(keys=[self.keys.deliveries, self.keys.due,
                                    *(self._rk(entry_id, target) for target, _, _ in opens)],
                              args=args, client=pipe)
        done = iter(pipe.execute())
        return [[bool(x) for x in next(done)] if opens else [] for _, opens in batch]

    def claim(self, entry_id: str, target: str, *, lease: float, safe_to_resend: bool,
              now: float | None = None, entry_key: str | None = None) -> Claim:
        now = time.time() if now is None else now
        res = self._claim(
            keys=[self._rk(entry_id, target), self.keys.due, self.keys.target(target),
                  self.keys.cooldown(target), *([entry_key] if entry_key else [])],
            args=[now, lease, member(entry_id, target), "1" if safe_to_resend else "0"],
        )
        outcome = _s(res[0])
        if outcome == ClaimOutcome.CLAIMED:
            return Claim(outcome, fence=int(res[1]), attempts=int(res[2]), op=_s(res[3]),
                         remote_id=_s(res[4]), data=_s(res[5]), broken=_s(res[6]))
        if outcome == ClaimOutcome.BROKEN:
            return Claim(outcome, when=float(_s(res[2])), broken=_s(res[1]),
                         credentials=_s(res[3]))
        if outcome in (ClaimOutcome.EARLY, ClaimOutcome.BUSY, ClaimOutcome.COOLING):
            return Claim(outcome, when=float(_s(res[1])))
        return Claim(outcome)

    def checkpoint(self, entry_id: str, target: str, fence: int, **fields: str) -> bool:
        args: list[Any] = [fence]
        for k, v in fields.items():
            args += [k, v]
        return bool(self._checkpoint(keys=[self._rk(entry_id, target)], args=args))

    def steps(self, entry_id: str, target: str) -> dict[str, str]:
        """What a multi-step target recorded of its earlier attempts."""
        d = self.get(entry_id, target)
        return {k[5:]: v for k, v in (d.extra if d else {}).items() if k.startswith("step:")}

    def on_wire(self, entry_id: str, target: str, fence: int) -> bool:
        return bool(self._on_wire(keys=[self._rk(entry_id, target)], args=[fence]))

    def finish(self, entry_id: str, target: str, fence: int, state: State, *,
               next_at: float = 0.0, now: float | None = None, refund: bool = False,
               counters: Sequence[tuple[str, float]] = (), **fields: str | int) -> bool:
        """Record the outcome of the attempt holding `fence`, and add `counters` to the metrics
        hash in the same round trip. False if that claim was lost."""
        now = time.time() if now is None else now
        args: list[Any] = [fence, state, now, next_at, member(entry_id, target),
                           "1" if refund else "0", len(counters)]
        for counter in counters:
            args += counter
        for k, v in fields.items():
            args += [k, self.redactor.redact(v) if isinstance(v, str) else v]
        return bool(self._finish(keys=[self._rk(entry_id, target), self.keys.due,
                                       self.keys.metrics], args=args))

    def edited(self, entry_id: str, target: str, *, now: float | None = None) -> str:
        """The entry changed; returns 'queued' when an update must be sent."""
        now = time.time() if now is None else now
        return _s(self._edited(keys=[self._rk(entry_id, target), self.keys.due],
                               args=[now, member(entry_id, target)]))

    def set_state(self, entry_id: str, target: str, state: State, *, allowed_from: tuple[str, ...],
                  next_at: float | None = None, now: float | None = None,
                  **fields: str | int) -> str:
        """Move a record that is not being sent (an operator's retry, resolve, approve).
        Returns 'ok', or the state that did not allow it, or 'missing'."""
        now = time.time() if now is None else now
        args: list[Any] = [",".join(allowed_from), state, now, member(entry_id, target),
                           now if next_at is None else next_at]
        for k, v in fields.items():
            args += [k, self.redactor.redact(v) if isinstance(v, str) else v]
        return _s(self._set_state(keys=[self._rk(entry_id, target), self.keys.due], args=args))

    def get(self, entry_id: str, target: str) -> Delivery | None:
        h = self.r.hgetall(self._rk(entry_id, target))
        return Delivery.from_hash(h) if h else None

    def all(self, limit: int = 1000, offset: int = 0) -> list[Delivery]:
        """Newest first."""
        members: Any = self.r.zrevrange(self.keys.deliveries, offset, offset + limit - 1)
        pipe = self.r.pipeline(transaction=False)
        for m in members:
            pipe.hgetall(self._rk(*split_member(m)))
        return [Delivery.from_hash(h) for h in pipe.execute() if h]

    def due_now(self, target: str, *, now: float | None = None) -> int:
        """Every record of `target` that waits (pending or failed) becomes due now."""
        now = time.time() if now is None else now
        # Every waiting record is in `due`; a target's are found by their member's suffix.
        raw: list[bytes] = self.r.zrange(self.keys.due, 0, -1)  # type: ignore[assignment]
        members = [split_member(m) for m in raw]
        woken = 0
        for entry_id, name in members:
            if name == target:
                woken += int(self._wake(keys=[self._rk(entry_id, target), self.keys.due],
                                        args=[now, member(entry_id, target)]))
        return woken

    def take_due(self, *, now: float | None = None, limit: int = 500,
                 push: float = 60.0) -> list[tuple[str, str]]:
        now = time.time() if now is None else now
        items: list[bytes] = self._take_due(keys=[self.keys.due], args=[now, limit, push])
        return [split_member(m) for m in items]
