"""The control runs' naive collaborators: each fault scenario also runs with the protection it
tests switched off, to show the checker does see the duplicates or losses that then happen (a
test that cannot fail proves nothing).

None of this is in the product. A control process is started as
`python -m bench.faults.worker --controls no_claim,... <syndicate arguments>`, which installs the
naive pieces named here and then runs the normal command; in-process tests install them with
pytest's `monkeypatch.setattr`.

- `acks_early`: Celery acknowledges a task when it starts, not when it ends.
- `no_reconcile`: the reconciler never re-enqueues what a crash left behind.
- `no_claim`: the ledger's claim is a naive check-then-act, without lease or fence.
- `no_lookup`: adapters do not look for an existing copy before creating one.
- `no_webhook_dedupe`: a repeated `webhook-id` is handled again.
- `no_schedule_lock`: every scheduler enqueues every due poll.
- `no_retry_after`: a target's `Retry-After` is ignored (only the backoff applies).
- `guid_only_identity`: an entry is known by its guid alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from syndicate import identity, ledger, poller, queue, web
from syndicate.dispatcher import Dispatcher
from syndicate.ledger import FINAL, Claim
from syndicate.targets import base, http

Setter = Callable[[Any, str, Any], None]


def _naive_claim(self: ledger.Ledger, entry_id: str, target: str, *, lease: float,
                 safe_to_resend: bool, now: float | None = None,
                 entry_key: str | None = None) -> Claim:
    # What code without the Lua claim would do: read, decide, write, in three steps.
    now = time.time() if now is None else now
    d = self.get(entry_id, target)
    if d is None or d.state in FINAL:
        return Claim(d.state if d else "missing")
    key = self.keys.delivery(entry_id, target)
    fence = int(self.r.hincrby(key, "fence", 1))
    attempts = int(self.r.hincrby(key, "attempts", 1))
    self.r.hset(key, mapping={"state": "sending", "wire": 0, "lease_until": now + lease})
    data = self.r.hget(entry_key, "data") if entry_key else None
    text = data.decode() if isinstance(data, bytes) else (data or "")
    return Claim("claimed", fence=fence, attempts=attempts, data=text)


def _acks_early(settings: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    def patched(config: Any) -> dict[str, Any]:
        return {**settings(config), "task_acks_late": False, "task_reject_on_worker_lost": False}
    return patched


def _no_lookup(self: base.Target, entry: Any, attempt: Any) -> Any:
    attempt.on_wire()
    return self.send(entry, attempt)


def _guid_only(guid: str, link: str, post_id: str, fp: str) -> list[tuple[str, str]]:
    return [("guid", identity.digest(guid or link))]


CONTROLS: dict[str, Callable[[Setter], None]] = {
    "acks_early": lambda s: s(queue, "celery_settings", _acks_early(queue.celery_settings)),
    "no_reconcile": lambda s: s(Dispatcher, "reconcile", lambda self, **kw: 0),
    "no_claim": lambda s: s(ledger.Ledger, "claim", _naive_claim),
    "no_lookup": lambda s: s(base.Target, "deliver", _no_lookup),
    "no_webhook_dedupe": lambda s: s(web, "first_sight", lambda rt, msg_id, source: True),
    "no_schedule_lock": lambda s: s(poller.Poller, "claim_due", lambda self, src: True),
    "no_retry_after": lambda s: s(http, "retry_after", lambda resp: None),
    "guid_only_identity": lambda s: s(identity, "identity_keys", _guid_only),
}


def install(names: Iterable[str], setattr_: Setter = setattr) -> list[str]:
    """Switch the named protections off in this process; returns them. Unknown names are an
    error, so a typo cannot make a control run that tests nothing."""
    chosen = [n.strip() for n in names if n.strip()]
    unknown = sorted(set(chosen) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown control {unknown[0]!r}; choose from {', '.join(CONTROLS)}")
    for name in chosen:
        CONTROLS[name](setattr_)
    return chosen
