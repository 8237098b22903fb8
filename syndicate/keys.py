"""Every Redis key syndicate writes, in one place.

All keys live under one prefix (config `[redis] prefix`, env `SYNDICATE_REDIS_PREFIX`), so several
installations, or several test runs, can share one Redis server without touching each other.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "syndicate"

# Entries
ENTRY = "entry"  # hash: one entry's fields                          entry:<id>
IDENTITY = "id"  # string -> entry id                                 id:<kind>:<value>
TIMELINE = "timeline"  # zset: entry id scored by published time
FEED_STATE = "feed"  # hash: version, changed_at of the merged feed
OUTBOX = "outbox"  # zset: new entries not yet fanned out to their targets, scored by when seen
HELD = "held"  # zset: new entries held by the flood breaker until a person decides

# Sources
SOURCE = "source"  # hash: etag, last_modified, body_hash, initialized...   source:<name>
POLL_LOCK = "lock:poll"  # string with TTL: one poll of a source at a time
POLL_DUE = "due:poll"  # string with TTL: the source was scheduled this interval

# Deliveries
DELIVERY = "delivery"  # hash: the ledger record of one (entry, target)    delivery:<entry>:<target>
DELIVERIES = "deliveries"  # zset: every ledger record, scored by creation time
DUE = "due"  # zset: ledger records that need action, scored by when (reconciler reads it)
RATE = "rate"  # zset: a sliding window of one target's requests              rate:<target>:<limit>
TARGET_LOCK = "lock:target"  # string with TTL: one check-then-create at a time   lock:target:<t>:<name>
TARGET = "target"  # hash: a target's health (broken, since, why)                target:<name>
FULLTEXT = "fulltext"  # string: the full text recovered for an excerpt-only entry
DIGEST = "digest"  # collected:<target> zset, periods:<target> hash, items:<id> list, since:<target>

# Web
WEBSUB_CHECK = "websub:check"  # string with TTL: subscriptions were checked this hour
WEBHOOK_SEEN = "webhook:seen"  # string with TTL: a webhook-id already handled
WORKERS = "heartbeat:workers"  # zset: worker name scored by its last heartbeat
BEATS = "heartbeat:beats"  # zset: scheduler name scored by its last heartbeat
METRICS = "metrics"  # hash: counters every process adds to, read by /metrics

# Celery's own keys go under this sub-prefix (kombu's `global_keyprefix`).
CELERY = "celery"


@dataclass(frozen=True)
class Keys:
    """Builds full key names under one prefix."""

    prefix: str = DEFAULT_PREFIX

    def _k(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def entry(self, entry_id: str) -> str:
        return self._k(ENTRY, entry_id)

    def identity(self, kind: str, value: str) -> str:
        return self._k(IDENTITY, kind, value)

    @property
    def timeline(self) -> str:
        return self._k(TIMELINE)

    @property
    def feed_state(self) -> str:
        return self._k(FEED_STATE)

    @property
    def outbox(self) -> str:
        return self._k(OUTBOX)

    @property
    def held(self) -> str:
        return self._k(HELD)

    def source(self, name: str) -> str:
        return self._k(SOURCE, name)

    def poll_lock(self, name: str) -> str:
        return self._k(POLL_LOCK, name)

    def poll_due(self, name: str) -> str:
        return self._k(POLL_DUE, name)

    def delivery(self, entry_id: str, target: str) -> str:
        return self._k(DELIVERY, entry_id, target)

    @property
    def deliveries(self) -> str:
        return self._k(DELIVERIES)

    @property
    def due(self) -> str:
        return self._k(DUE)

    def rate(self, target: str, limit: str) -> str:
        return self._k(RATE, target, limit)

    def cooldown(self, target: str) -> str:
        return self._k(RATE, target, "cooldown")

    def lock(self, target: str, name: str) -> str:
        return self._k(TARGET_LOCK, target, name)

    def target(self, name: str) -> str:
        return self._k(TARGET, name)

    def digest(self, *parts: str) -> str:
        return self._k(DIGEST, *parts)

    def fulltext(self, entry_id: str) -> str:
        return self._k(FULLTEXT, entry_id)

    @property
    def websub_check(self) -> str:
        return self._k(WEBSUB_CHECK)

    @property
    def metrics(self) -> str:
        return self._k(METRICS)

    def webhook_seen(self, webhook_id: str) -> str:
        return self._k(WEBHOOK_SEEN, webhook_id)

    @property
    def workers(self) -> str:
        return self._k(WORKERS)

    @property
    def beats(self) -> str:
        return self._k(BEATS)

    @property
    def celery_prefix(self) -> str:
        return self._k(CELERY) + ":"
