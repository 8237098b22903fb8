"""The Celery app that runs syndicate's tasks: `celery -A workers.app worker` or `syndicate worker`.

Configured from the same config file as everything else (`$SYNDICATE_CONFIG`, `REDIS_URL`), with
the settings in `syndicate.queue.celery_settings`. The tasks themselves are in `workers.tasks`.
"""

from __future__ import annotations

import logging
import threading

import celery.apps.worker as celery_worker
from celery import Celery
from celery.signals import beat_init, worker_ready, worker_shutting_down

from syndicate import runtime
from syndicate.queue import QUEUE, TASK_TICK, celery_settings

log = logging.getLogger("syndicate.worker")

def _say(msg: str, f: object = None) -> None:
    # Celery prints its shutdown notices straight to the terminal; here they are log lines.
    log.info("%s", msg.strip())


celery_worker.safe_say = _say
app = Celery("syndicate", include=["workers.tasks"])
app.conf.update(celery_settings(runtime.current().config))

_stop = threading.Event()


def _heartbeat_loop() -> None:
    # /healthz reports how many workers checked in during the last HEARTBEAT_TTL seconds.
    while not _stop.is_set():
        try:
            runtime.current().heartbeat()
        except Exception as exc:  # Redis away for a moment: try again next round
            log.warning("heartbeat failed: %s", exc)
        _stop.wait(runtime.HEARTBEAT_TTL / 3)


@beat_init.connect
def _first_tick_now(sender: object = None, **_: object) -> None:
    """The first tick runs at once, with the sources that want polling now made due: the
    schedule would otherwise wait a whole tick, and saved due times from the last run."""
    rt = runtime.current()
    due = rt.on_start()
    if due:
        log.info("polling at once: %s (new, changed or failed last time)", ", ".join(due))
    app.send_task(TASK_TICK, queue=QUEUE)


@worker_ready.connect
def _start_heartbeat(**_: object) -> None:
    threading.Thread(target=_heartbeat_loop, name="syndicate-heartbeat", daemon=True).start()


@worker_shutting_down.connect
def _stop_heartbeat(**_: object) -> None:
    _stop.set()
