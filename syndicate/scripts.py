"""Lua scripts on a connection each thread keeps: the Redis client every part of syndicate uses.

A claim, a finish, a poll's begin and end are each one `EVALSHA`, and they are most of the Redis
round trips a worker makes. Through redis-py's generic path an `EVALSHA` costs about twice its
round trip in CPU: the pool's lock, a readiness poll of the socket and four metric calls on
every checkout and release, a deprecated-arguments check, and a `Pipeline` protocol check in
`Script.__call__`. Here each thread sends its scripts on a connection of its own, built from the
pool's settings, so none of that runs; the connection keeps redis-py's health check, socket
timeouts and reconnecting.

When that connection fails (a Redis restart, a timeout), the script is run again through
redis-py's path, whose `Retry` rides the restart out: exactly what a failed `EVALSHA` did
before. Every script here is safe to run again (claims are fenced, creates are NX).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import hiredis
from redis import Redis
from redis.backoff import ExponentialBackoff
from redis.commands.core import Script
from redis.connection import AbstractConnection
from redis.exceptions import BusyLoadingError, ConnectionError, NoScriptError, TimeoutError
from redis.retry import Retry

__all__ = ["ScriptClient", "ThreadScript", "connect"]

# What the generic path's retry policy is there for; anything else is the script's own answer.
_RETRIED = (ConnectionError, TimeoutError, BusyLoadingError)


class _ThreadConnections:
    """One connection per thread (and per process: a fork starts with none), all closable.
    A thread that ended leaves its connection behind: it is closed when another thread opens
    one, so threads that come and go do not pile connections up."""

    def __init__(self, client: Redis) -> None:
        self.pool = client.connection_pool
        self.local = threading.local()
        self.lock = threading.Lock()
        self.all: dict[threading.Thread, AbstractConnection] = {}

    def get(self) -> AbstractConnection:
        conn: AbstractConnection | None = getattr(self.local, "conn", None)
        if conn is not None and conn.pid == os.getpid():
            return conn
        # A fork copies the parent's thread-local: that socket is the parent's, left alone
        # (closing it here, as a dead thread's below, only closes the child's copy).
        conn = self.pool.connection_class(**self.pool.connection_kwargs)
        self.local.conn = conn
        with self.lock:
            ended = [t for t in self.all if not t.is_alive()]
            gone = [self.all.pop(t) for t in ended]
            self.all[threading.current_thread()] = conn
        for old in gone:
            old.disconnect()  # type: ignore[no-untyped-call]
        return conn

    def close(self) -> None:
        with self.lock:
            conns, self.all = list(self.all.values()), {}
        for conn in conns:
            conn.disconnect()  # type: ignore[no-untyped-call]


class ScriptClient(Redis):
    """A `Redis` whose registered scripts run on the calling thread's own connection."""

    def register_script(self, script: Any) -> ThreadScript:
        return ThreadScript(self, script)

    def _threads(self) -> _ThreadConnections:
        got = self.__dict__.get("_thread_conns")
        if got is None:  # setdefault: two threads racing here keep the same one
            got = self.__dict__.setdefault("_thread_conns", _ThreadConnections(self))
        return got  # type: ignore[no-any-return]

    def evalsha_here(self, script: Script, keys: Sequence[Any], args: Iterable[Any]) -> Any:
        conn = self._threads().get()
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            # hiredis writes the command as redis-py's packer does, for str, bytes, int and
            # float, in a sixth of its time (a claim's or a finish's 20-odd arguments went
            # through a Python encoder one by one). Anything else takes redis-py's own path.
            packed: Any = [hiredis.pack_command(command)]
        except TypeError:
            packed = conn.pack_command(*command)  # type: ignore[no-untyped-call]
        try:
            conn.send_packed_command(packed)  # type: ignore[no-untyped-call]
            return conn.read_response()
        except NoScriptError:
            pass  # a restarted server forgot it: redis-py's path loads it again
        except _RETRIED:
            pass  # the connection closed itself; the generic path reconnects with its retry
        return Script.__call__(script, keys=keys, args=args, client=self)

    def close(self) -> None:
        self._threads().close()
        super().close()


class ThreadScript(Script):
    """`Script`, sent on the thread's own connection unless another client (a pipeline) is
    given."""

    def __init__(self, owner: ScriptClient, script: Any) -> None:
        super().__init__(owner, script)
        # Kept typed here: an isinstance check against a redis-py client class goes through
        # typing's slow protocol check, which is what this class avoids.
        self.owner = owner

    def __call__(self, keys: Sequence[Any] | None = None, args: Iterable[Any] | None = None,
                 client: Any = None) -> Any:
        if client is None or client is self.owner:
            return self.owner.evalsha_here(self, keys or (), args or ())
        return super().__call__(keys, args, client)


def connect(url: str) -> Redis:
    """A client that rides out a Redis restart (connection refused, then "loading the dataset")
    for about half a minute instead of failing the delivery in hand. Retrying is safe because
    every script is: the claim is fenced, creates are NX, and an upsert whose answer was lost
    already put its entry in the outbox."""
    retry = Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=25)
    return ScriptClient.from_url(url, socket_timeout=30, socket_connect_timeout=5,
                                 health_check_interval=30, retry=retry,
                                 retry_on_error=[BusyLoadingError, ConnectionError, TimeoutError])
