"""kombu's Redis transport, keeping one Redis client per channel instead of one per use.

kombu's Redis `Channel` builds a new `redis.Redis` each time it needs a synchronous client
(`Channel._create_client`, through `conn_or_acquire`): under `acks_late` that is twice a task,
to record the unacknowledged message on receipt and to remove it on ack, and each build fills a
table of about 170 response callbacks. That was 9% of a worker's CPU in the fan-out benchmark.
A `redis.Redis` is safe to share between threads (each command takes a connection from the
pool), so the channel keeps one, and builds another only when kombu replaced its pool (after a
lost connection). Everything else is kombu's own.

Celery finds a transport by the broker URL's scheme, so this one is registered as the alias
`syndicate-redis` and `queue.broker_url` writes `redis://` and `unix://` URLs with it
(`syndicate-redis://host:port/db`, `syndicate-redis+socket:///path`). A `rediss://` URL keeps
kombu's transport unchanged: kombu turns TLS on by that scheme's name.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

__all__ = ["ALIAS", "Channel", "Transport", "register", "url"]

ALIAS = "syndicate-redis"


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # the consumer's own BRPOP client: kombu already keeps that one
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        pool = self.pool
        client = self._shared_client
        if client is None or client.connection_pool is not pool:
            client = self._shared_client = super()._create_client()  # type: ignore[no-untyped-call]
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel


def register() -> None:
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")


def url(redis_url: str) -> str:
    """The broker URL for a Redis URL as redis-py spells it."""
    if redis_url.startswith("unix://"):
        path, _, query = redis_url[len("unix://"):].partition("?")
        return f"{ALIAS}+socket://" + path + (f"?{query}" if query else "")
    if redis_url.startswith("redis://"):
        return ALIAS + redis_url[len("redis"):]
    return redis_url
