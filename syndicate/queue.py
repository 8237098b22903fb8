"""Celery as the queue: the settings every process shares, and the producer side.

The workers (`workers/`) register the tasks under these names; everything else (the web app, the
CLI, the dispatcher) only sends messages by name, so it never imports the worker code.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from celery import Celery

from . import broker
from .config import DEFAULT_REDIS_URL, Config
from .keys import Keys

broker.register()

TASK_POLL = "syndicate.poll"
TASK_DELIVER = "syndicate.deliver"
TASK_DELIVER_RUN = "syndicate.deliver_run"
TASK_TICK = "syndicate.tick"
QUEUE = "syndicate"
__all__ = ["DEFAULT_REDIS_URL", "QUEUE", "TASK_DELIVER", "TASK_DELIVER_RUN", "TASK_POLL",
           "TASK_TICK", "CeleryQueue", "MemoryQueue", "broker_url", "celery_settings", "producer",
           "redis_url"]


def redis_url(config: Config) -> str:
    return config.redis.address


def broker_url(url: str) -> str:
    """The broker URL for Celery: kombu spells a Unix socket `+socket://` where redis-py spells
    it `unix://`, and the scheme names syndicate's transport (`syndicate/broker.py`)."""
    return broker.url(url)


def celery_settings(config: Config) -> dict[str, Any]:
    keys = Keys(config.redis.prefix)
    return {
        "broker_url": broker_url(redis_url(config)),
        "broker_transport_options": {
            # Celery's own keys live under our prefix, so installations can share a server.
            "global_keyprefix": keys.celery_prefix,
            "visibility_timeout": config.worker.visibility_timeout,
            "fanout_prefix": True,
            "fanout_patterns": True,
        },
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # A delivery is idempotent (the ledger's claim), so a message may be redelivered after a
        # crash; acknowledging late is what makes a crash lose nothing.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_default_queue": QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "timezone": "UTC",
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "beat_schedule": {
            "tick": {"task": TASK_TICK, "schedule": config.worker.tick,
                     "options": {"expires": max(config.worker.tick * 2, 5.0)}},
        },
    }


def producer(config: Config) -> Celery:
    """A Celery app that only sends (the web app and the CLI use it)."""
    app = Celery("syndicate-producer", set_as_current=False)
    app.conf.update(celery_settings(config))
    return app


def _argsrepr(*args: str) -> str:
    # What Celery shows of a task's arguments (logs, events, Flower): given, because Celery's
    # own, reprlib-like saferepr costs more than building the rest of the message.
    return repr(list(args))


class MemoryQueue:
    """A `Queue` that only records its wake-up calls: for tests and tools that drive the
    dispatcher themselves."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str]] = []
        self.runs: list[list[tuple[str, str]]] = []  # the wake-ups of `deliver_runs`, as sent
        self.polls: list[str] = []

    def deliver(self, entry_id: str, target: str) -> None:
        self.deliveries.append((entry_id, target))

    def deliver_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        self.deliveries.extend(pairs)

    def deliver_runs(self, runs: Iterable[Sequence[tuple[str, str]]]) -> None:
        for run in runs:
            self.runs.append(list(run))
            self.deliveries.extend(run)

    def poll(self, source: str) -> None:
        self.polls.append(source)

    def close(self) -> None:
        pass  # holds no connection


class CeleryQueue:
    """The dispatcher's `Queue`, backed by Celery messages sent by task name."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def deliver(self, entry_id: str, target: str) -> None:
        self.app.send_task(TASK_DELIVER, args=[entry_id, target], queue=QUEUE,
                           argsrepr=_argsrepr(entry_id, target))

    def deliver_many(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Several wake-ups in one round trip to Redis.

        kombu buffers a producer's publishes inside `Producer.batch()` (5.7 and later, hence the
        pin) in one non-transactional pipeline on the Redis transport; another broker sends
        them one by one. A batch lost on the way (the pipeline fails) loses only wake-ups: every
        record is already in the ledger and due a little later, so the reconciler sends it.
        """
        self.deliver_runs([pair] for pair in pairs)

    def deliver_runs(self, runs: Iterable[Sequence[tuple[str, str]]]) -> None:
        """One wake-up per run, all in one round trip (as `deliver_many`): a run of one is a
        `deliver` task, a longer run one `deliver_run` task that makes its deliveries in order.
        """
        runs = [list(run) for run in runs if run]
        if len(runs) == 1 and len(runs[0]) == 1:
            self.deliver(*runs[0][0])
            return
        if not runs:
            return
        with self.app.producer_or_acquire() as producer, producer.batch():
            for run in runs:
                if len(run) == 1:
                    (entry_id, target), = run
                    self.app.send_task(TASK_DELIVER, args=[entry_id, target], queue=QUEUE,
                                       producer=producer, argsrepr=_argsrepr(entry_id, target))
                else:
                    self.app.send_task(TASK_DELIVER_RUN, args=[run], queue=QUEUE,
                                       producer=producer, argsrepr=repr(run))

    def close(self) -> None:
        """Close the broker connections this app holds (its producer pool).
        `Celery.close` alone only forgets the pool: its connections stay open."""
        self.app.pool.force_close_all()
        self.app.close()

    def poll(self, source: str) -> None:
        self.app.send_task(TASK_POLL, args=[source], queue=QUEUE)
