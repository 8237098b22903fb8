"""Lanes: the threads on which one task's run makes its targets at once.

A new entry's deliveries share one Celery task (`Dispatcher.fan_out_many`), because Celery's own
work for a message costs a worker more than a webhook delivery does. The task makes its first
target on its own thread and hands each other target to a lane here, then waits for all of them
before it returns (and so before its message is acknowledged).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["LANE_MAX", "LANE_THREADS", "Lanes"]

LANE_THREADS = 64  # per process, unless the worker says how many runs it makes at once
LANE_MAX = 256  # per process, whatever it says: past this a lane waits its turn


class Lanes:
    """The threads that make a run's other targets at once (`Dispatcher.deliver_run`).

    Made only as needed, up to `size` (`Dispatcher.fit_lanes`); past that a lane waits its
    turn. A lane never waits on another, so they cannot deadlock. A forked child starts with
    none of them."""

    def __init__(self, size: int = LANE_THREADS) -> None:
        self.size = size
        self._pool: ThreadPoolExecutor | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[list[int]], None], lane: list[int]) -> Future[None]:
        # Under the lock, so that `close` cannot shut the pool between its choice and the
        # submit: a lane submitted before `close` is made before `close` returns.
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = ThreadPoolExecutor(self.size, thread_name_prefix="syndicate-lane")
                self._pid = os.getpid()
            try:
                return self._pool.submit(fn, lane)
            except RuntimeError:
                pass  # the interpreter is exiting and takes no new thread's work
        done: Future[None] = Future()
        fn(lane)  # made here, in turn
        done.set_result(None)
        return done

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.shutdown(wait=True)
