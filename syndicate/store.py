"""The entry store: every post once, known by all of its identities.

`upsert` is one Lua script: look the post up by each identity key, then create or update it, link
every identity to it, and (for a new post that should be syndicated) put its id in the outbox, all
in one step. Two workers seeing the same post at once, from one blog or two, make one entry, and a
crash can never leave an entry stored but forgotten by the dispatcher: the outbox remembers it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

import redis

from . import identity
from .entry import Entry
from .keys import Keys

UpsertStatus = Literal["new", "changed", "same", "alias"]

# KEYS: timeline, feed_state, outbox, held, identity keys...
# ARGV: entry key prefix, new id, entry json, content hash, published, now, source, mode, reason,
#       index of the fingerprint key in KEYS (0: none), title digest, undated (1/0)
# mode: 'deliver' (a new entry enters the outbox), 'hold' (it waits for approval), 'record'.
# A content fingerprint alone joins the same post seen on another blog, never two posts of one
# source (podcast episodes sharing a description) nor two posts with different titles.
_UPSERT = """
local found
local fpi = tonumber(ARGV[10])
for i = 5, #KEYS do
  local v = redis.call('GET', KEYS[i])
  if v and i == fpi then
    local o = redis.call('HMGET', ARGV[1] .. v, 'source', 'tn')
    if o[1] == ARGV[7] or (o[2] and o[2] ~= ARGV[11]) then v = false end
  end
  if v then found = v break end
end
local id = found or ARGV[2]
local ekey = ARGV[1] .. id
local status
local old = found and redis.call('HMGET', ekey, 'ch', 'source') or {false, false}
if not old[1] then
  status = 'new'
  redis.call('HSET', ekey, 'data', ARGV[3], 'ch', ARGV[4], 'source', ARGV[7],
             'first_seen', ARGV[6], 'updated_at', ARGV[6], 'tn', ARGV[11])
  redis.call('ZADD', KEYS[1], ARGV[5], id)
  if ARGV[8] == 'deliver' then redis.call('ZADD', KEYS[3], ARGV[6], id) end
  if ARGV[8] == 'hold' then
    redis.call('ZADD', KEYS[4], ARGV[6], id)
    redis.call('HSET', ekey, 'held', ARGV[9])
  end
elseif old[2] ~= ARGV[7] then
  -- The same post from another source: it stays one entry, owned by the first source.
  status = 'alias'
  redis.call('HSETNX', ekey, 'alias:' .. ARGV[7], ARGV[6])
elseif old[1] ~= ARGV[4] then
  status = 'changed'
  redis.call('HSET', ekey, 'data', ARGV[3], 'ch', ARGV[4], 'updated_at', ARGV[6], 'tn', ARGV[11])
  redis.call('HINCRBY', ekey, 'edits', 1)
  -- An undated post keeps its place (the time it was first seen); an edit does not move it.
  if ARGV[12] ~= '1' then redis.call('ZADD', KEYS[1], ARGV[5], id) end
else
  status = 'same'
end
for i = 5, #KEYS do
  -- NX: an identity that already names another entry keeps naming it.
  redis.call('SET', KEYS[i], id, 'NX')
end
if status == 'new' or status == 'changed' then
  redis.call('HINCRBY', KEYS[2], 'version', 1)
  redis.call('HSET', KEYS[2], 'changed_at', ARGV[6])
end
return {status, id}
"""


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def content_hash(entry: Entry) -> str:
    h = hashlib.sha256()
    for part in (entry.title, entry.content_html, entry.summary, entry.link, entry.image,
                 "\x1f".join(entry.categories)):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


@dataclass(frozen=True)
class FeedState:
    version: int
    changed_at: float


class EntryStore:
    def __init__(self, r: redis.Redis, keys: Keys) -> None:
        self.r = r
        self.keys = keys
        self._upsert = r.register_script(_UPSERT)

    def upsert(self, entry: Entry, *, deliver: bool = True, hold: str = "",
               now: float | None = None) -> tuple[str, UpsertStatus]:
        """Store `entry`; return its id and whether it was new, changed, the same, or an alias
        (the same post seen through another source). With `deliver`, a new entry enters the
        outbox, to be fanned out to the targets; with `hold` (the reason), it waits for a
        person's approval instead."""
        keys, args = self._upsert_call(entry, deliver, hold, now)
        return self._upserted(entry, self._upsert(keys=keys, args=args))

    def upsert_many(self, items: list[tuple[Entry, bool, str]], *, now: float | None = None
                    ) -> list[tuple[str, UpsertStatus] | Exception]:
        """`upsert` for (entry, deliver, hold) each, in one pipeline, in order: a poll's
        entries cost one round trip, not one each. An entry that cannot be stored gets its
        exception in its place, and the others are stored; a lost connection raises."""
        out: list[tuple[str, UpsertStatus] | Exception] = []
        pipe = self.r.pipeline(transaction=False)
        staged = []
        for entry, deliver, hold in items:
            try:
                keys, args = self._upsert_call(entry, deliver, hold, now)
            except Exception as exc:  # noqa: BLE001 - reported in the entry's place
                out.append(exc)
                continue
            self._upsert(keys=keys, args=args, client=pipe)
            staged.append((len(out), entry))
            out.append(ValueError("not stored"))
        if staged:
            for (at, entry), res in zip(staged, pipe.execute(raise_on_error=False), strict=True):
                out[at] = res if isinstance(res, Exception) else self._upserted(entry, res)
        return out

    def _upsert_call(self, entry: Entry, deliver: bool, hold: str, now: float | None
                     ) -> tuple[list[str], list[Any]]:
        now = time.time() if now is None else now
        ids = identity.identity_keys(entry.guid, entry.link, entry.post_id, entry.fingerprint)
        if not ids:
            raise ValueError("an entry needs a guid or a link")
        new_id = identity.entry_id_for(ids)
        entry.first_seen = entry.first_seen or now
        # An undated post is dated when it was first seen, so it sorts where it appeared.
        undated = not entry.published
        stored = Entry(**{**entry.__dict__, "id": entry.id or new_id,
                          "published": entry.published or now,
                          "updated": entry.updated or entry.published or now})
        fp_index = next((5 + i for i, (kind, _) in enumerate(ids) if kind == "fp"), 0)
        keys = [self.keys.timeline, self.keys.feed_state, self.keys.outbox, self.keys.held,
                *(self.keys.identity(k, v) for k, v in ids)]
        args = [self.keys.entry(""), new_id, stored.to_json(), content_hash(entry),
                stored.published, now, entry.source,
                "hold" if hold else ("deliver" if deliver else "record"), hold,
                fp_index, identity.digest(identity.normalize_text(entry.title)),
                "1" if undated else "0"]
        return keys, args

    @staticmethod
    def _upserted(entry: Entry, res: Any) -> tuple[str, UpsertStatus]:
        status, entry_id = res
        entry.id = _s(entry_id)
        return entry.id, cast(UpsertStatus, _s(status))

    def get(self, entry_id: str) -> Entry | None:
        data = self.r.hget(self.keys.entry(entry_id), "data")
        return self._load(entry_id, data)

    def get_many(self, entry_ids: list[str]) -> list[Entry]:
        if not entry_ids:
            return []
        pipe = self.r.pipeline(transaction=False)
        for eid in entry_ids:
            pipe.hget(self.keys.entry(eid), "data")
        return [e for e in (self._load(eid, d) for eid, d in zip(entry_ids, pipe.execute(),
                                                                   strict=True)) if e]

    def load(self, entry_id: str, data: bytes | str | None) -> Entry | None:
        """An entry from data already read (e.g. by the ledger's claim)."""
        return self._load(entry_id, data)

    @staticmethod
    def _load(entry_id: str, data: bytes | str | None) -> Entry | None:
        if not data:
            return None
        entry = Entry.from_json(data)
        entry.id = entry_id  # the stored id wins over whatever the JSON carried
        return entry

    def latest(self, n: int) -> list[Entry]:
        ids: Any = self.r.zrevrange(self.keys.timeline, 0, n - 1)
        return self.get_many([_s(i) for i in ids])

    def count(self) -> int:
        return int(self.r.zcard(self.keys.timeline))

    def find(self, ref: str) -> Entry | None:
        """An entry by its id, its guid or any of its URLs."""
        entry = self.get(ref) if len(ref) == 16 and "/" not in ref else None
        if entry:
            return entry
        for kind, value in (("url", identity.digest(identity.normalize_url(ref))),
                            ("guid", identity.digest(ref))):
            eid = self.r.get(self.keys.identity(kind, value))
            if eid:
                return self.get(_s(eid))
        return None

    def feed_state(self) -> FeedState:
        version, changed_at = self.r.hmget(self.keys.feed_state, "version", "changed_at")
        return FeedState(int(version or 0), float(changed_at or 0.0))

    def started(self, now: float | None = None) -> float:
        """When this installation first served its feed (set once, then read)."""
        now = time.time() if now is None else now
        pipe = self.r.pipeline(transaction=False)
        pipe.hsetnx(self.keys.feed_state, "started", repr(now))
        pipe.hget(self.keys.feed_state, "started")
        return float(pipe.execute()[1] or now)

    def known(self, entries: list[Entry]) -> list[bool]:
        """Whether the store already has each entry (by any identity), in one round trip."""
        pipe = self.r.pipeline(transaction=False)
        counts = []
        for e in entries:
            ids = identity.identity_keys(e.guid, e.link, e.post_id, e.fingerprint)
            counts.append(len(ids))
            for kind, value in ids:
                pipe.exists(self.keys.identity(kind, value))
        results = iter(pipe.execute())
        # Take each entry's n answers whole (any() on a generator would stop early and shift
        # every later entry's answers).
        return [any([next(results) for _ in range(n)]) for n in counts]

    # Held entries: a flood waiting for a person to approve or discard it.
    def held(self) -> dict[str, str]:
        """entry id -> why it is held, oldest first."""
        ids = [_s(i) for i in self.r.zrange(self.keys.held, 0, -1)]
        pipe = self.r.pipeline(transaction=False)
        for eid in ids:
            pipe.hget(self.keys.entry(eid), "held")
        return {eid: _s(why or "") for eid, why in zip(ids, pipe.execute(), strict=True)}

    def release(self, entry_id: str, *, deliver: bool) -> bool:
        """End a hold: into the outbox (approved) or not (discarded). False if not held."""
        pipe = self.r.pipeline()
        pipe.zrem(self.keys.held, entry_id)
        pipe.hdel(self.keys.entry(entry_id), "held")
        if deliver:
            pipe.zadd(self.keys.outbox, {entry_id: time.time() - 3600})
        removed, *_ = pipe.execute()
        if not removed and deliver:
            self.r.zrem(self.keys.outbox, entry_id)
        return bool(removed)

    # The outbox: new entries not yet fanned out to their targets.
    def outbox(self, older_than: float | None = None, limit: int = 500) -> list[str]:
        top = "+inf" if older_than is None else older_than
        ids: Any = self.r.zrangebyscore(self.keys.outbox, "-inf", top, start=0, num=limit)
        return [_s(i) for i in ids]

    def outbox_done(self, *entry_ids: str) -> None:
        if entry_ids:
            self.r.zrem(self.keys.outbox, *entry_ids)
