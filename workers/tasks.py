"""Thin tasks: they take ids, call into `syndicate`, and hold no logic of their own.

`acks_late` with `reject_on_worker_lost` (set app-wide) is safe only because every task is
idempotent: a poll is guarded by a lock and the store's identities, a delivery by the ledger's
claim. A message delivered twice does nothing the second time.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from syndicate.errors import UnknownSourceError
from syndicate.queue import TASK_DELIVER, TASK_DELIVER_RUN, TASK_POLL, TASK_TICK

from .app import SyndicateTask, app

if TYPE_CHECKING:  # the scheduler imports these tasks and must not load the dispatcher
    from syndicate.dispatcher import Outcome

log = logging.getLogger("syndicate.worker")


@app.task(name=TASK_POLL, ignore_result=True, bind=True, base=SyndicateTask)
def poll(self: SyndicateTask, source: str) -> dict[str, Any]:
    try:
        result = self.runtime.poll(source)
    except UnknownSourceError as exc:
        log.warning("poll: %s", exc)
        return {"source": source, "status": "unknown-source"}
    return {"source": source, "status": result.status, "new": len(result.new),
            "error": result.error}


@app.task(name=TASK_DELIVER, ignore_result=True, bind=True, base=SyndicateTask)
def deliver(self: SyndicateTask, entry_id: str, target: str) -> dict[str, Any]:
    return _summary(self.runtime.dispatcher.deliver(entry_id, target))


@app.task(name=TASK_TICK, ignore_result=True, bind=True, base=SyndicateTask)
def tick(self: SyndicateTask) -> dict[str, int]:
    return self.runtime.tick()


@app.task(name=TASK_DELIVER_RUN, ignore_result=True, bind=True, base=SyndicateTask)
def deliver_run(self: SyndicateTask, pairs: list[list[str]]) -> list[dict[str, Any]]:
    return [_summary(o) for o in self.runtime.dispatcher.deliver_run(pairs)]


def _summary(outcome: Outcome) -> dict[str, Any]:
    return {"state": outcome.state, "retry_in": outcome.retry_in, "error": outcome.error}
