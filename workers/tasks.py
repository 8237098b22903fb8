"""Thin tasks: they take ids, call into `syndicate`, and hold no logic of their own.

`acks_late` with `reject_on_worker_lost` (set app-wide) is safe only because every task is
idempotent: a poll is guarded by a lock and the store's identities, a delivery by the ledger's
claim. A message delivered twice does nothing the second time.
"""

from __future__ import annotations

import logging
from typing import Any

from syndicate import runtime
from syndicate.errors import UnknownSourceError
from syndicate.queue import TASK_DELIVER, TASK_POLL, TASK_TICK

from .app import app

log = logging.getLogger("syndicate.worker")


@app.task(name=TASK_POLL, ignore_result=True)
def poll(source: str) -> dict[str, Any]:
    try:
        result = runtime.current().poll(source)
    except UnknownSourceError as exc:
        log.warning("poll: %s", exc)
        return {"source": source, "status": "unknown-source"}
    return {"source": source, "status": result.status, "new": len(result.new),
            "error": result.error}


@app.task(name=TASK_DELIVER, ignore_result=True)
def deliver(entry_id: str, target: str) -> dict[str, Any]:
    outcome = runtime.current().dispatcher.deliver(entry_id, target)
    return {"state": outcome.state, "retry_in": outcome.retry_in, "error": outcome.error}


@app.task(name=TASK_TICK, ignore_result=True)
def tick() -> dict[str, int]:
    return runtime.current().tick()


@app.task(name="syndicate.noop", ignore_result=True)
def noop() -> None:
    """Does nothing: the benchmarks measure Celery's own cost per task with it."""
