"""The dispatcher: entries in the outbox -> ledger records -> one attempt at a time per record.

Data flows one way: the poller puts new entries in the store's outbox; `fan_out` opens one ledger
record per (entry, target) and wakes a worker for them, an entry's records in one task whose
targets are made at once (`deliver_run`); `deliver` makes one attempt, guarded by the ledger's
claim, and records what the adapter said; `reconcile` (run by the scheduler) re-enqueues
whatever a lost message, a dead worker or a retry delay left due, and fans out any entry a crash
left in the outbox. The ledger decides; queue messages are only wake-up calls, so a duplicate
message does nothing and a lost one is found again.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .config import Config, TargetConfig
from .content import safe_url
from .digest import Digests, is_digest
from .errors import (
    AmbiguousError,
    DeliveryError,
    PermanentError,
    RateLimited,
    SyndicateError,
    TargetBroken,
    TransientError,
)
from .fulltext import FullText
from .health import TargetHealth, credentials_digest
from .lanes import LANE_MAX, Lanes
from .ledger import Claim, ClaimOutcome, Ledger, State
from .limiter import Limiter
from .metrics import Metrics
from .store import EntryStore
from .targets import Attempt, DeliveryResult, Target, build

log = logging.getLogger("syndicate.dispatch")

FANOUT_GRACE = 30.0  # seconds a directly enqueued record waits before the reconciler re-sends it
REQUEUE_PUSH = 60.0  # a record the reconciler enqueued is not enqueued again for this long


class Queue(Protocol):
    """Where wake-up calls go (Celery in production; a list in some unit tests)."""

    def deliver(self, entry_id: str, target: str) -> None: ...

    def deliver_many(self, pairs: Iterable[tuple[str, str]]) -> None: ...

    def deliver_runs(self, runs: Iterable[Sequence[tuple[str, str]]]) -> None: ...

    def poll(self, source: str) -> None: ...

    def close(self) -> None: ...


class LeaseLost(SyndicateError):
    """Another worker took the record over: this attempt must not send."""


@dataclass(frozen=True)
class Outcome:
    state: str  # the ledger state after this call, or why nothing was done (busy, early...)
    retry_in: float | None = None
    error: str = ""
    latency: float | None = None  # first seen -> delivered, when this call delivered
    attempted: bool = False  # a claim was taken: this call was an attempt


def backoff(attempts: int, base: float, cap: float, hint: float | None = None,
            rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter ("equal jitter"), never shorter than the target's hint."""
    uniform = (rng or random).uniform
    ceiling = min(cap, base * (2 ** max(0, attempts - 1)))
    delay = ceiling / 2 + uniform(0, ceiling / 2)
    return float(max(delay, hint or 0.0))


class Next(StrEnum):
    """What `decide` says happens after an attempt that did not deliver."""

    FAILED = "failed"  # retried after a backoff
    PENDING = "pending"  # our own rate limit: nothing was sent, no attempt spent
    BROKEN = "broken"  # the target's credentials: every delivery to it waits
    DEAD = "dead"
    UNKNOWN = "unknown"  # the target may have it: a person settles it
    BUSY = "busy"  # the claim was lost: the other worker decides


@dataclass(frozen=True)
class Decision:
    """What happens after an attempt that did not deliver.

    `state`: `failed` (retried after a backoff), `pending` (our own rate limit: nothing was
    sent, no attempt spent), `broken` (the target's credentials: every delivery to it waits),
    `dead`, `unknown` (the target may have it: a person settles it), `busy` (the claim was
    lost: the other worker decides)."""

    state: Next
    message: str
    hint: float | None = None  # the platform's own wait (Retry-After), at least
    cool_down: float | None = None  # every worker holds off this target this long


def decide(exc: BaseException, *, safe_to_resend: bool, wired: bool, attempts: int,
           max_attempts: int) -> Decision:
    """The one table from an error to what happens next; no I/O, so it is tested as a table."""
    message = exc.message if isinstance(exc, DeliveryError) else (
        str(exc) if isinstance(exc, LeaseLost) else f"{exc.__class__.__name__}: {exc}")
    if isinstance(exc, LeaseLost):
        return Decision(Next.BUSY, message)
    if isinstance(exc, RateLimited):
        return Decision(Next.PENDING, message, hint=exc.retry_after or 1.0)
    if isinstance(exc, TargetBroken):
        return Decision(Next.BROKEN, message)
    if isinstance(exc, PermanentError):
        return Decision(Next.DEAD, message)
    retry = Decision(Next.FAILED, message)
    if isinstance(exc, AmbiguousError):
        if not safe_to_resend:
            return Decision(Next.UNKNOWN, message)
    elif isinstance(exc, TransientError):
        retry = Decision(Next.FAILED, message, hint=exc.retry_after, cool_down=exc.retry_after)
    elif not isinstance(exc, DeliveryError) and wired and not safe_to_resend:
        return Decision(Next.UNKNOWN, message)  # an adapter bug after the request left
    if attempts >= max_attempts:
        return Decision(Next.DEAD, f"gave up after {attempts} attempts: {message}",
                        cool_down=retry.cool_down)
    return retry


class Dispatcher:
    """Opens the ledger records of new entries and makes each delivery attempt: claim, send,
    record. Its collaborators come from `Runtime.open` (the defaults serve tests and tools)."""

    def __init__(self, config: Config, store: EntryStore, ledger: Ledger, queue: Queue, *,
                 limiter: Limiter | None = None, health: TargetHealth | None = None,
                 fulltext: FullText | None = None, digests: Digests | None = None,
                 metrics: Metrics | None = None) -> None:
        r, keys = store.r, store.keys
        self.config = config
        self.store = store
        self.ledger = ledger
        self.queue = queue
        self.limiter = limiter or Limiter(r, keys)
        self.health = health or TargetHealth(r, keys)
        self.fulltext = fulltext or FullText(r, keys, allow_private=config.fetch.allow_private)
        self.digests = digests or Digests(config, store, ledger)
        self.metrics = metrics or Metrics(r, keys)
        # One adapter (and HTTP session) per thread: a threads-pool worker shares this object.
        self._local = threading.local()
        self.lanes = Lanes()

    def target(self, name: str) -> Target:
        adapters: dict[str, Target] = self._local.__dict__.setdefault("adapters", {})
        adapter = adapters.get(name)
        if adapter is None:
            cfg = self.config.target(name)
            if cfg is None:
                raise KeyError(name)
            adapter = adapters[name] = build(cfg, self.config.site)
            adapter.limiter = self.limiter
        return adapter

    def close(self) -> None:
        self.lanes.close()
        for adapter in self._local.__dict__.get("adapters", {}).values():
            adapter.close()
        self._local.__dict__.pop("adapters", None)

    def fit_lanes(self, concurrency: int) -> int:
        """Enough lane threads that no run's target waits for one: each of the worker's
        `concurrency` threads makes one run at a time, with a lane for each target but the
        first; at most `LANE_MAX`, which bounds a process's threads. Returns the size."""
        # A delayed target's or a digest's deliveries are woken one a task, never in a run.
        targets = sum(1 for c in self.config.enabled_targets
                      if c.delay <= 0 and not self.digests.wants(c))
        self.lanes.size = max(1, min(LANE_MAX, concurrency * max(1, targets - 1)))
        return self.lanes.size

    def lease_for(self, cfg: TargetConfig) -> float:
        # Long enough for a lookup, the request and its timeout; short enough that a dead
        # worker's record is taken over within minutes.
        return cfg.timeout * 3 + self.config.worker.lease_margin

    # -- fan-out ---------------------------------------------------------------------------
    def fan_out(self, entry_id: str, *, now: float | None = None) -> int:
        """Open a ledger record for each enabled target and wake a worker for them (one task
        makes them all at once, see `fan_out_many`)."""
        return self.fan_out_many([entry_id], now=now)

    def fan_out_many(self, entry_ids: list[str], *, now: float | None = None) -> int:
        """`fan_out` for a poll's new entries: their records opened in one pipeline, their
        wake-ups published in one batch, oldest entry first.

        A target whose `per_task` is more than one gets its wake-ups in runs of that many
        entries, one task each (`deliver_run`): for email, Celery's own work for a task costs
        more than the message. Every other wake-up shares its entry's task (below)."""
        if not entry_ids:
            return 0
        now = time.time() if now is None else now
        direct = []
        for cfg in self.config.enabled_targets:
            if self.digests.wants(cfg):
                for entry_id in entry_ids:
                    self.digests.collect(cfg.name, entry_id, now)
            else:
                direct.append((cfg, self.per_task(cfg)))
        # Until a worker takes it, each record is also due a little later, so a wake-up lost
        # between here and the queue is found by the reconciler. A record further down a run
        # waits longer: for the ones before it to be made, each within its timeout.
        created = self.ledger.create_for([
            (entry_id, [(c.name, now + c.delay,
                         max(now + c.delay, now + FANOUT_GRACE + (i % n) * c.timeout))
                        for c, n in direct])
            for i, entry_id in enumerate(entry_ids)], now=now)
        # An entry's deliveries share one task wherever a target has only that entry to make
        # (`deliver_run` makes them at once): Celery's own work for a message costs a worker
        # more than a webhook delivery does. A target with `per_task` > 1 and several entries
        # gets them in runs of its own, which it makes in order.
        shared: dict[str, list[tuple[str, str]]] = {}
        runs: list[list[tuple[str, str]]] = []
        for t, (cfg, n) in enumerate(direct):
            if cfg.delay > 0:
                continue  # the reconciler wakes them when their delay is over
            made = [entry_id for entry_id, new in zip(entry_ids, created, strict=True)
                    if new[t]]
            for k in range(0, len(made), n):
                chunk = made[k:k + n]
                if len(chunk) == 1:
                    shared.setdefault(chunk[0], []).append((chunk[0], cfg.name))
                else:
                    runs.append([(entry_id, cfg.name) for entry_id in chunk])
        runs += shared.values()
        # Oldest first: every target's first run, then every target's second...
        position = {entry_id: i for i, entry_id in enumerate(entry_ids)}
        runs.sort(key=lambda run: position[run[0][0]])
        self.queue.deliver_runs(runs)
        self.store.outbox_done(*entry_ids)
        return sum(map(sum, created))

    def per_task(self, cfg: TargetConfig) -> int:
        return cfg.per_task or self.target(cfg.name).per_task

    def close_digests(self) -> int:
        opened = self.digests.close_due()
        self.queue.deliver_many(opened)
        return len(opened)

    def edited(self, entry_id: str) -> int:
        """The entry changed: queue an in-place update on every target set to `on_edit=update`."""
        queued = 0
        for cfg in self.config.enabled_targets:
            if self.target(cfg.name).on_edit != "update":
                continue
            if self.ledger.edited(entry_id, cfg.name) == "queued":
                self.queue.deliver(entry_id, cfg.name)
                queued += 1
        return queued

    # -- target health ---------------------------------------------------------------------
    def _credentials(self, adapter: Target) -> str:
        return credentials_digest(adapter.secrets())

    def _mark_broken(self, adapter: Target, message: str) -> float:
        message = self.ledger.redactor.redact(message)
        recheck = self.health.mark_broken(adapter.name, message, self._credentials(adapter))
        log.error("target %s is broken, its deliveries wait: %s", adapter.name, message)
        return recheck

    def revive(self, target: str) -> int:
        """The target works again (its recheck succeeded, or its credentials changed): forget
        that it was broken and make every delivery waiting on it due now, not at its backoff."""
        self.health.clear(target)
        return self.ledger.due_now(target)

    def revive_fixed_targets(self) -> int:
        """Targets marked broken under credentials the config no longer has (a restart with the
        fix): revived at once. The scheduler runs this every tick; it is one read per target."""
        woken = 0
        marked = self.health.broken_with([c.name for c in self.config.enabled_targets])
        for name, credentials in marked.items():
            if credentials != self._credentials(self.target(name)):
                log.info("target %s has new credentials: its waiting deliveries go now", name)
                woken += self.revive(name)
        return woken

    # -- one attempt -----------------------------------------------------------------------
    def deliver_run(self, pairs: Iterable[Sequence[str]]) -> list[Outcome]:
        """`deliver` for each (entry, target) of one task's run (see `fan_out_many`): each
        target's deliveries in order, different targets at once (the first on this thread,
        the others on the process's lane threads), so one slow target holds up no other.

        Each is its own claim and attempt, so a run cut short (the worker dies, the message is
        redelivered) makes only what is still to make. An error on one is logged and left to
        the reconciler, as a failed task's would be, and the run goes on. This returns when
        every delivery of the run has ended, so the task is acknowledged only then."""
        todo = [(entry_id, target) for entry_id, target in pairs]
        outcomes: list[Outcome] = [Outcome("error")] * len(todo)
        lanes: dict[str, list[int]] = {}
        for i, (_, target) in enumerate(todo):
            lanes.setdefault(target, []).append(i)

        def make(lane: list[int]) -> None:
            for i in lane:
                outcomes[i] = self._deliver_logged(*todo[i])

        first, *others = lanes.values() or [[]]
        waits = [self.lanes.submit(make, lane) for lane in others]
        make(first)
        for wait in waits:
            wait.result()
        return outcomes

    def _deliver_logged(self, entry_id: str, target: str) -> Outcome:
        try:
            return self.deliver(entry_id, target)
        except Exception as exc:
            # Said as the ledger says errors: an unexpected one may quote a secret.
            error = self.ledger.redactor.redact(f"{exc.__class__.__name__}: {exc}")
            log.error("delivery of %s to %s failed, the reconciler will retry it: %s",
                      entry_id, target, error)
            return Outcome("error", error=error)

    def deliver(self, entry_id: str, target_name: str, *, patient: bool = True) -> Outcome:
        """One attempt: claim the record, send, record the outcome (and its metrics).

        `patient`: a short cooldown (up to the adapter's `max_sleep`) is slept through once,
        rather than handing the record to the reconciler's next tick."""
        cfg = self.config.target(target_name)
        if cfg is None or not cfg.enabled:
            return Outcome("skipped", error=f"target {target_name!r} is not enabled")
        adapter = self.target(target_name)
        digest = is_digest(entry_id)
        claim = self.ledger.claim(entry_id, target_name, lease=self.lease_for(cfg),
                                  safe_to_resend=adapter.safe_to_resend,
                                  entry_key=None if digest else self.store.keys.entry(entry_id))
        if claim.outcome == ClaimOutcome.BROKEN:
            if claim.credentials != self._credentials(adapter):
                self.revive(target_name)  # the config was fixed
                return self.deliver(entry_id, target_name, patient=patient)
            self.ledger.set_state(entry_id, target_name, State.FAILED,
                                  allowed_from=(State.PENDING, State.FAILED),
                                  next_at=claim.when, last_error=f"target broken: {claim.broken}")
            return Outcome("waiting", retry_in=claim.when - time.time(), error=claim.broken)
        if claim.outcome == ClaimOutcome.COOLING:
            wait = claim.when - time.time()
            if patient and wait <= adapter.max_sleep:
                time.sleep(max(0.0, wait))
                return self.deliver(entry_id, target_name, patient=False)
            return Outcome("pending", retry_in=wait,
                           error=f"{target_name} asked to hold off (Retry-After)")
        if not claim.ok:
            return Outcome(claim.outcome)
        return self._attempt(cfg, adapter, entry_id, claim, digest)

    def _attempt(self, cfg: TargetConfig, adapter: Target, entry_id: str, claim: Claim,
                 digest: bool) -> Outcome:
        target_name, fence = cfg.name, claim.fence
        entry = self.digests.entry(entry_id) if digest else self.store.load(entry_id, claim.data)
        if entry is None:
            return self._finish(entry_id, target_name, fence, State.DEAD,
                                "the entry is no longer in the store")
        updating = claim.op == "update" and bool(claim.remote_id)
        if updating and (not adapter.can_update or adapter.on_edit != "update"):
            self.ledger.finish(entry_id, target_name, fence, State.DELIVERED, op="")
            return Outcome("delivered")

        wired = False

        def on_wire() -> None:
            nonlocal wired
            if wired:
                return  # marked already in this attempt (the pipeline's and an adapter's own)
            if not adapter.idempotency_key and not self.ledger.on_wire(entry_id, target_name,
                                                                       fence):
                raise LeaseLost(f"{entry_id}:{target_name}: claim {fence} was taken over")
            wired = True

        def save_step(key: str, value: str) -> None:
            if not self.ledger.checkpoint(entry_id, target_name, fence, **{key: value}):
                raise LeaseLost(f"{entry_id}:{target_name}: claim {fence} was taken over")

        attempt = Attempt(entry_id=entry_id, target=target_name, attempt=claim.attempts,
                          on_wire=on_wire, save_step=save_step,
                          steps=self.ledger.steps(entry_id, target_name)
                          if adapter.multi_step else {})
        started = time.time()
        try:
            entry = self.fulltext.complete(entry)
            result: DeliveryResult
            if updating:
                result = adapter.update(entry, claim.remote_id, attempt)
            else:
                result = adapter.deliver(entry, attempt)
        except Exception as exc:  # whatever it is, the decision table says what happens next
            if not isinstance(exc, DeliveryError | LeaseLost):
                log.exception("delivery %s -> %s raised", entry_id, target_name)
            return self._apply(decide(exc, safe_to_resend=adapter.safe_to_resend, wired=wired,
                                      attempts=claim.attempts, max_attempts=cfg.max_attempts),
                               cfg, adapter, entry_id, fence, claim.attempts)
        if claim.broken:
            self.revive(target_name)  # its recheck worked: everything waiting on it goes now
        result = adapter.check_copy(entry, result)
        if result.drift:
            log.warning("%s -> %s: the platform changed the copy: %s", entry_id, target_name,
                        result.drift, extra={"event": "delivery.drift", "entry": entry_id,
                                             "target": target_name})
        latency = time.time() - (entry.first_seen or started)
        if not self.ledger.finish(entry_id, target_name, fence, State.DELIVERED,
                                  remote_id=result.remote_id or claim.remote_id,
                                  remote_url=safe_url(result.remote_url), op="",
                                  last_error="", delivered_at=repr(time.time()),
                                  latency_ms=int((time.time() - started) * 1000),
                                  adopted=int(result.adopted),
                                  verified="" if result.verified is None
                                  else str(int(result.verified)),
                                  drift=result.drift,
                                  counters=self.metrics.attempt(target_name, "delivered",
                                                                latency)):
            log.warning("delivery %s -> %s succeeded after its claim was taken over",
                        entry_id, target_name)
        log.info("%s %s -> %s %s%s", "updated" if updating else "delivered", entry_id,
                 target_name, result.remote_url, " (adopted existing)" if result.adopted else "",
                 extra={"event": "delivery.outcome", "entry": entry_id, "target": target_name,
                        "state": "delivered", "attempt": claim.attempts,
                        "ms": int((time.time() - started) * 1000)})
        return Outcome("delivered", attempted=True, latency=latency)

    def _apply(self, d: Decision, cfg: TargetConfig, adapter: Target, entry_id: str, fence: int,
               attempts: int) -> Outcome:
        """Record what `decide` said."""
        target = cfg.name
        if d.state == Next.BUSY:
            log.warning("%s", d.message)
            self.metrics.delivered(target, "busy", None)
            return Outcome("busy", attempted=True, error=d.message)
        if d.cool_down:
            self.health.cool_down(target, d.cool_down)
        if d.state == Next.PENDING:  # our own count of the rate limit: nothing was sent
            wait = d.hint or 1.0
            self.ledger.finish(entry_id, target, fence, State.PENDING, next_at=time.time() + wait,
                               refund=True, last_error=d.message,
                               counters=self.metrics.attempt(target, "pending"))
            return Outcome("pending", attempted=True, retry_in=wait, error=d.message)
        if d.state == Next.BROKEN:
            until = self._mark_broken(adapter, d.message)
            self.ledger.finish(entry_id, target, fence, State.FAILED, next_at=until, refund=True,
                               last_error=f"target broken: {d.message}",
                               counters=self.metrics.attempt(target, "failed"))
            return Outcome("failed", attempted=True, retry_in=until - time.time(),
                           error=d.message)
        if d.state in (Next.DEAD, Next.UNKNOWN):
            return self._finish(entry_id, target, fence, State(d.state), d.message)
        return self._retry(cfg, entry_id, fence, attempts, d.message, d.hint)

    def _finish(self, entry_id: str, target: str, fence: int, state: State, error: str
                ) -> Outcome:
        self.ledger.finish(entry_id, target, fence, state, last_error=error,
                           counters=self.metrics.attempt(target, state))
        log.warning("delivery %s -> %s %s: %s", entry_id, target, state, error, extra={
            "event": "delivery.outcome", "entry": entry_id, "target": target, "state": state})
        return Outcome(state, attempted=True, error=error)

    def _retry(self, cfg: TargetConfig, entry_id: str, fence: int, attempts: int, error: str,
               hint: float | None) -> Outcome:
        w = self.config.worker
        delay = backoff(attempts, w.retry_base, w.retry_cap, hint)
        self.ledger.finish(entry_id, cfg.name, fence, State.FAILED, next_at=time.time() + delay,
                           last_error=error, counters=self.metrics.attempt(cfg.name, "failed"))
        log.info("delivery %s -> %s failed (attempt %d), retry in %.1fs: %s", entry_id, cfg.name,
                 attempts, delay, error, extra={
                     "event": "delivery.outcome", "entry": entry_id, "target": cfg.name,
                     "state": "failed", "attempt": attempts, "retry_in": round(delay, 1)})
        return Outcome("failed", attempted=True, retry_in=delay, error=error)

    # -- the reconciler --------------------------------------------------------------------
    def reconcile(self, *, now: float | None = None) -> int:
        """Fan out entries a crash left in the outbox; wake a worker for every record due."""
        now = time.time() if now is None else now
        self.fan_out_many(list(self.store.outbox(older_than=now - FANOUT_GRACE)), now=now)
        due = self.ledger.take_due(now=now, push=REQUEUE_PUSH)
        self.queue.deliver_many(due)
        return len(due)
