"""Which workers and schedulers are alive: each checks in every few seconds.

/healthz counts the workers that checked in within `HEARTBEAT_TTL`; `syndicate healthcheck
worker|beat` asks whether one on this host did (a container's health check). Kept apart from
the runtime so the scheduler, which needs nothing else of it, starts without loading it.
"""

from __future__ import annotations

import os
import socket
import time

from redis import Redis

from .keys import Keys

__all__ = ["HEARTBEAT_TTL", "alive_here", "check_in", "workers_alive"]

HEARTBEAT_TTL = 30


def _key(keys: Keys, part: str) -> str:
    return keys.beats if part == "beat" else keys.workers


def check_in(r: Redis, keys: Keys, part: str = "worker", name: str | None = None) -> None:
    """This process (`part`: worker or beat) is alive; entries older than the TTL go."""
    name = name or f"{socket.gethostname()}:{os.getpid()}"
    key, now = _key(keys, part), time.time()
    pipe = r.pipeline(transaction=False)
    pipe.zadd(key, {name: now})
    pipe.zremrangebyscore(key, "-inf", now - HEARTBEAT_TTL)
    pipe.execute()


def alive_here(r: Redis, keys: Keys, part: str) -> bool:
    """Whether a `part` (worker or beat) on this host checked in within the TTL."""
    host = socket.gethostname() + ":"
    recent = r.zrangebyscore(_key(keys, part), time.time() - HEARTBEAT_TTL, "+inf")
    return any((m.decode() if isinstance(m, bytes) else str(m)).startswith(host)
               for m in recent)


def workers_alive(r: Redis, keys: Keys) -> int:
    # One sorted set read by key: /healthz is public, so its cost must not grow with the
    # keyspace (a SCAN over every key made it an easy way to slow the feeds down).
    return int(r.zcount(keys.workers, time.time() - HEARTBEAT_TTL, "+inf"))
