"""The producer side of Celery: wake-ups land on the real Redis queue, several in one round trip."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis
from redis.connection import AbstractConnection

from syndicate.keys import Keys
from syndicate.queue import QUEUE, TASK_DELIVER, TASK_DELIVER_RUN, CeleryQueue, producer

from .conftest import make_config


def _queued(r: redis.Redis, prefix: str, task: str = TASK_DELIVER) -> list[list[Any]]:
    raw: list[bytes] = r.lrange(Keys(prefix).celery_prefix + QUEUE, 0, -1)  # type: ignore[assignment]
    out = []
    for item in reversed(raw):  # LPUSH: the oldest is last
        message = json.loads(item)
        if message["headers"]["task"] == task:
            out.append(json.loads(base64.b64decode(message["body"]))[0])
    return out


def test_deliver_many_lands_every_wake_up_in_order(redis_url: str, prefix: str,
                                                    r: redis.Redis) -> None:
    app = producer(make_config(redis_url, prefix))
    try:
        q = CeleryQueue(app)
        q.deliver_many([])
        q.deliver_many([("e0", "devto")])
        q.deliver_many([(f"e{i}", t) for i in range(1, 4) for t in ("devto", "smtp")])
        assert _queued(r, prefix) == [["e0", "devto"]] + [
            [f"e{i}", t] for i in range(1, 4) for t in ("devto", "smtp")]
    finally:
        app.close()


def test_a_run_is_one_task_that_names_its_deliveries_in_order(redis_url: str, prefix: str,
                                                             r: redis.Redis) -> None:
    app = producer(make_config(redis_url, prefix))
    try:
        CeleryQueue(app).deliver_runs([[("e0", "devto")], [("e1", "mail"), ("e2", "mail")], []])
        assert _queued(r, prefix) == [["e0", "devto"]]
        assert _queued(r, prefix, TASK_DELIVER_RUN) == [[[["e1", "mail"], ["e2", "mail"]]]]
    finally:
        app.close()


def test_deliver_many_is_one_round_trip(redis_url: str, prefix: str, r: redis.Redis,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app = producer(make_config(redis_url, prefix))
    try:
        q = CeleryQueue(app)
        q.deliver_many([("warm", "a"), ("warm", "b")])  # connects and declares once
        sends = []
        original = AbstractConnection.send_packed_command

        def counted(self: AbstractConnection, command: Any, check_health: bool = True) -> None:
            sends.append(command)
            original(self, command, check_health)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        q.deliver_many([(f"e{i}", "devto") for i in range(20)])
        monkeypatch.undo()
        # One pipeline write, against twenty LPUSHes one by one.
        assert len(sends) == 1, len(sends)
        assert len(_queued(r, prefix)) == 22
    finally:
        app.close()


def test_the_broker_channel_keeps_one_redis_client(redis_url: str, prefix: str) -> None:
    """kombu would build a new client for each use (twice a task under acks_late); the
    channel keeps one, and a new one only when kombu replaced its pool."""
    from syndicate import broker

    app = producer(make_config(redis_url, prefix))
    try:
        with app.connection_for_write() as conn:
            assert isinstance(conn.transport, broker.Transport)
            channel = conn.default_channel
            with channel.conn_or_acquire() as a, channel.conn_or_acquire() as b:
                assert a is b and a.ping()
            channel._disconnect_pools()  # what kombu does after a lost connection
            with channel.conn_or_acquire() as c:
                assert c is not a and c.connection_pool is channel.pool and c.ping()
    finally:
        app.close()


@pytest.mark.parametrize(("given", "expected"), [
    ("redis://127.0.0.1:6379/0", "syndicate-redis://127.0.0.1:6379/0"),
    ("redis://:pw@host/2", "syndicate-redis://:pw@host/2"),
    ("unix:///data/redis.sock?db=1", "syndicate-redis+socket:///data/redis.sock?db=1"),
    ("rediss://host:6380/0", "rediss://host:6380/0"),
])
def test_broker_urls(given: str, expected: str) -> None:
    from syndicate.queue import broker_url

    assert broker_url(given) == expected
