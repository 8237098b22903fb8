"""The composition root: one object that wires config, Redis, store, ledger, poller, dispatcher.

Every process (web, worker, scheduler, CLI) builds one `Runtime` and calls its few verbs:
`poll` a source, `tick` (what the scheduler does), `deliveries` (what status shows).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from redis import Redis

from . import heartbeat, scheduler, status, targets, websub
from .config import Config
from .digest import Digests
from .dispatcher import Dispatcher, Queue
from .entry import Entry
from .errors import UnknownEntryError
from .fulltext import FullText
from .health import TargetHealth
from .keys import Keys
from .ledger import Ledger
from .limiter import Limiter
from .metrics import Metrics
from .poller import Poller, PollResult
from .queue import CeleryQueue, producer, redis_url
from .redact import Redactor
from .scripts import connect
from .store import EntryStore

log = logging.getLogger("syndicate")


@dataclass
class Runtime:
    config: Config
    redis: Redis
    keys: Keys
    store: EntryStore
    ledger: Ledger
    poller: Poller
    dispatcher: Dispatcher
    queue: Queue

    @classmethod
    def open(cls, config: Config, *, queue: Queue | None = None, r: Redis | None = None,
             ledger: Ledger | None = None, poller: Poller | None = None,
             dispatcher: Dispatcher | None = None) -> Runtime:
        """Wire one installation's parts. Any of them may be given (tests, tools and the fault
        suite's control runs bring their own); the rest are built here."""
        config = targets.check(config)  # each adapter checks its own options, once
        r = r or connect(redis_url(config))
        keys = Keys(config.redis.prefix)
        store = EntryStore(r, keys)
        ledger = ledger or Ledger(r, keys, Redactor(targets.secrets(config)))
        queue = queue or CeleryQueue(producer(config))
        dispatcher = dispatcher or Dispatcher(
            config, store, ledger, queue, limiter=Limiter(r, keys),
            health=TargetHealth(r, keys),
            fulltext=FullText(r, keys, allow_private=config.fetch.allow_private),
            digests=Digests(config, store, ledger), metrics=Metrics(r, keys))
        return cls(
            config=config, redis=r, keys=keys, store=store, ledger=ledger,
            poller=poller or Poller(config, r, keys, store), dispatcher=dispatcher, queue=queue)

    def close(self) -> None:
        """Close this runtime's connections: Redis, the broker's and the poller's HTTP pool.

        A one-shot command calls it before it stops the embedded Redis it started, because that
        server only shuts down when the stopping client is its last one: a pool left open (by a
        reference that outlives the command) would leave the server running after the command.
        """
        self.queue.close()
        self.poller.session.close()
        self.redis.close()

    def poll(self, source: str) -> PollResult:
        """Poll one source now and fan its new entries out to the targets."""
        started = time.monotonic()
        result = self.poller.poll(source)
        log.info("poll %s: %s, %d new", source, result.status, len(result.new), extra={
            "event": "poll", "source": source, "status": result.status, "new": len(result.new),
            "held": len(result.held), "code": result.code or "",
            "ms": int((time.monotonic() - started) * 1000)})
        for entry_id in result.new:
            title, link = result.about.get(entry_id, ("", ""))
            log.info("new entry %s: %s", entry_id, title, extra={
                "event": "entry.new", "entry": entry_id, "source": source, "link": link})
        self.dispatcher.fan_out_many(result.new)
        for entry_id in result.changed:
            self.dispatcher.edited(entry_id)
        if result.feed_changed:
            websub.ping_hub(self.config.site, self.poller.session)
        if result.parsed:  # the feed changed: it may name a (new) hub
            self.check_websub(source)
        return result

    def accept(self, entry: Entry) -> tuple[str, str]:
        """A post pushed to us (a Ghost webhook): stored as a poll would store it, then sent on
        (new) or updated where it was sent (edited). The same post seen later in the feed is
        the same entry."""
        entry_id, status = self.store.upsert(entry, deliver=True)
        if status == "new":
            log.info("new entry %s: %s", entry_id, entry.title, extra={
                "event": "entry.new", "entry": entry_id, "source": entry.source,
                "link": entry.link})
            self.dispatcher.fan_out(entry_id)
        elif status == "changed":
            self.dispatcher.edited(entry_id)
        return entry_id, status

    def check_websub(self, source: str) -> bool:
        """Subscribe to the source's WebSub hub if it has one and we are not subscribed."""
        src = self.config.source(source)
        if src is None:
            return False
        state = self.poller.state(source)
        if not websub.needs_subscription(self.config.site, src, state, time.time()):
            return False
        return websub.subscribe(self.redis, self.keys, self.config.site, src, state,
                                self.poller.session)

    def _held_refs(self, ref: str) -> list[str]:
        """The held entries `ref` names: a source's (by name), or one entry (id or URL)."""
        held = self.store.held()
        if self.config.source(ref) is not None:
            return [eid for eid in held if (e := self.store.get(eid)) and e.source == ref]
        entry = self.store.find(ref)
        if entry is None:
            raise UnknownEntryError(f"no source or entry is known by {ref!r}")
        return [entry.id] if entry.id in held else []

    def approve(self, ref: str) -> list[str]:
        """Let held entries go to their targets."""
        approved = [eid for eid in self._held_refs(ref) if self.store.release(eid, deliver=True)]
        # Together, as a poll's new entries go: a target with `per_task` gets them in runs.
        self.dispatcher.fan_out_many(approved)
        return approved

    def discard(self, ref: str) -> list[str]:
        """Never send these held entries (they stay known, so they never come back as new)."""
        return [eid for eid in self._held_refs(ref) if self.store.release(eid, deliver=False)]

    def on_start(self) -> list[str]:
        """The sources the scheduler polls at once when it starts (`scheduler.due_at_start`)."""
        return scheduler.due_at_start(self.redis, self.keys, self.config)

    def tick(self) -> dict[str, int]:
        """The scheduler's heartbeat: enqueue the polls that are due, wake due deliveries."""
        polls = 0
        for src in self.config.polled_sources:
            if self.poller.claim_due(src):
                self.queue.poll(src.name)
                polls += 1
        woken = self.dispatcher.revive_fixed_targets()
        woken += self.dispatcher.reconcile()
        digests = self.dispatcher.close_digests()
        if self.redis.set(self.keys.websub_check, "1", nx=True, ex=3600):  # leases: hourly
            for src in self.config.polled_sources:
                self.check_websub(src.name)
        return {"polls": polls, "deliveries": woken, "digests": digests}

    def deliveries(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The ledger as `GET /api/deliveries` and `syndicate status --json` show it."""
        return status.deliveries(self, limit)

    def source_problems(self) -> list[dict[str, Any]]:
        """Sources whose last poll failed or left entries out, with why (status, the page)."""
        return status.source_problems(self)

    @property
    def redactor(self) -> Redactor:
        return self.ledger.redactor

    def heartbeat(self, name: str | None = None, *, part: str = "worker") -> None:
        """This process is alive (`part`: worker or beat), for /healthz and container checks."""
        heartbeat.check_in(self.redis, self.keys, part, name)

    def alive_here(self, part: str) -> bool:
        """Whether a `part` (worker or beat) on this host checked in within the heartbeat TTL."""
        return heartbeat.alive_here(self.redis, self.keys, part)

    def workers_alive(self) -> int:
        return heartbeat.workers_alive(self.redis, self.keys)
