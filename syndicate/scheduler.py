"""What the scheduler process does itself: at start, make due at once the sources that want it.

Everything else it does is sending the `tick` task every [worker] tick; the tick runs in a
worker (`Runtime.tick`). So the scheduler needs Redis and the config, not the runtime: it starts
without loading the poller, the dispatcher or their libraries.
"""

from __future__ import annotations

from redis import Redis

from .config import Config
from .keys import Keys

__all__ = ["due_at_start"]


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def due_at_start(r: Redis, keys: Keys, config: Config) -> list[str]:
    """The scheduler starts: a source that is new, whose URL changed, or whose last poll
    failed is polled at once, not when a due time saved by an earlier run comes round
    (after fixing a config and restarting, nothing would happen for minutes)."""
    now_due = []
    for src in config.polled_sources:
        state = {_s(k): _s(v) for k, v in r.hgetall(keys.source(src.name)).items()}
        if not state or state.get("url") != src.url or state.get("last_error"):
            r.delete(keys.poll_due(src.name))
            now_due.append(src.name)
    return now_due
