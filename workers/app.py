"""The Celery app that runs syndicate's tasks: `celery -A workers.app worker` or `syndicate worker`.

Configured from the same config file as everything else (`$SYNDICATE_CONFIG`, `REDIS_URL`), with
the settings in `syndicate.queue.celery_settings`, read when Celery first needs them, not at
import. The tasks are in `workers.tasks`; their shared per-process resource, the runtime, is
`SyndicateTask.shared()`: Celery's documented place for it, built once per worker process.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, ClassVar

import celery.apps.worker as celery_worker
from celery import Celery, Task
from celery.signals import (
    beat_init,
    celeryd_after_setup,
    worker_init,
    worker_ready,
    worker_shutting_down,
)
from redis import Redis

from syndicate import config as config_mod
from syndicate import heartbeat, scheduler, targets
from syndicate import queue as queue_mod
from syndicate.keys import Keys
from syndicate.queue import QUEUE, TASK_TICK, CeleryQueue
from syndicate.scripts import connect

if TYPE_CHECKING:
    from syndicate.runtime import Runtime

log = logging.getLogger("syndicate.worker")


def _say(msg: str, f: object = None) -> None:
    # Celery prints its shutdown notices straight to the terminal; here they are log lines.
    log.info("%s", msg.strip())


def _settings() -> dict[str, Any]:
    # Looked up when needed (not bound at import), so a control run's settings apply.
    return queue_mod.celery_settings(targets.check(config_mod.load()))


celery_worker.safe_say = _say
app = Celery("syndicate", include=["workers.tasks"])
app.add_defaults(_settings)  # evaluated on first use of the config, in the process that runs


class SyndicateTask(Task):  # type: ignore[misc]
    """The base of every task: holds the process's runtime (config, Redis, store, ledger,
    dispatcher), built on first use in the worker and shared by its threads."""

    _runtime: ClassVar[Runtime | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> Runtime:
        if cls._runtime is None:
            with cls._lock:
                if cls._runtime is None:
                    # Imported here: the scheduler process never builds one (see _lean_parts).
                    from syndicate.runtime import Runtime

                    # Wake-ups go through this very app: no second Celery app per process.
                    cls._runtime = Runtime.open(config_mod.load(), queue=CeleryQueue(app))
        return cls._runtime

    @property
    def runtime(self) -> Runtime:
        return self.shared()


_stop = threading.Event()
_lean: tuple[config_mod.Config, Redis, Keys] | None = None
_lean_lock = threading.Lock()


def _lean_parts() -> tuple[config_mod.Config, Redis, Keys]:
    """The config and a Redis client, without the runtime: all the scheduler process needs
    (its tick runs in a worker), and all a heartbeat needs. Not importing the runtime halves
    the scheduler's CPU to its first tick, on the cores the worker is starting on."""
    global _lean
    with _lean_lock:
        if _lean is None:
            cfg = config_mod.load()
            _lean = (cfg, connect(cfg.redis.address), Keys(cfg.redis.prefix))
        return _lean


def _heartbeat_loop(part: str = "worker") -> None:
    # /healthz reports how many workers checked in during the last HEARTBEAT_TTL seconds;
    # `syndicate healthcheck worker|beat` asks the same of this host's.
    while not _stop.is_set():
        try:
            _, r, keys = _lean_parts()
            heartbeat.check_in(r, keys, part)
        except Exception as exc:  # Redis away for a moment: try again next round
            log.warning("heartbeat failed: %s", exc)
        _stop.wait(heartbeat.HEARTBEAT_TTL / 3)


@beat_init.connect
def _first_tick_now(sender: object = None, **_: object) -> None:
    """The first tick runs at once, with the sources that want polling now made due: the
    schedule would otherwise wait a whole tick, and saved due times from the last run."""
    cfg, r, keys = _lean_parts()
    threading.Thread(target=_heartbeat_loop, args=("beat",), name="syndicate-heartbeat",
                     daemon=True).start()
    due = scheduler.due_at_start(r, keys, cfg)
    if due:
        log.info("polling at once: %s (new, changed or failed last time)", ", ".join(due))
    app.send_task(TASK_TICK, queue=QUEUE)


@worker_init.connect
def _build_runtime(**_: object) -> None:
    # Before the first task, which would otherwise wait for it.
    SyndicateTask.shared()


@celeryd_after_setup.connect
def _fit_lanes(sender: object = None, instance: Any = None, **_: object) -> None:
    # The worker's concurrency is known from here on (the command line may have set it).
    concurrency = getattr(instance, "concurrency", None)
    if isinstance(concurrency, int) and concurrency > 0:
        size = SyndicateTask.shared().dispatcher.fit_lanes(concurrency)
        log.info("a run's targets are made at once: up to %d lane threads", size)


@worker_ready.connect
def _start_heartbeat(**_: object) -> None:
    threading.Thread(target=_heartbeat_loop, name="syndicate-heartbeat", daemon=True).start()


@worker_shutting_down.connect
def _stop_heartbeat(**_: object) -> None:
    _stop.set()
