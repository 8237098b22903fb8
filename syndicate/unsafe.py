"""Switches that turn a protection off, for the fault suite's control runs only.

Each scenario in `bench/faults` also runs with the protection it tests switched off, to show that
the checker does see duplicates or losses when they happen (a test that cannot fail proves
nothing). They are read from `SYNDICATE_UNSAFE` (comma-separated) and are never set in
production:

- `acks_early`: Celery acknowledges a task when it starts, not when it ends.
- `no_reconcile`: the reconciler never re-enqueues what a crash left behind.
- `no_claim`: the ledger's claim does not check the lease (two workers may send at once).
- `no_lookup`: adapters do not look for an existing copy before creating one.
- `no_webhook_dedupe`: a repeated `webhook-id` is handled again.
- `no_schedule_lock`: every scheduler enqueues every due poll.
- `no_retry_after`: a target's `Retry-After` is ignored (only the backoff applies).
- `guid_only_identity`: an entry is known by its guid alone.
"""

from __future__ import annotations

import os

ENV = "SYNDICATE_UNSAFE"


def off(protection: str) -> bool:
    """True when `protection` is switched off for a control run."""
    return protection in {p.strip() for p in os.environ.get(ENV, "").split(",")}
