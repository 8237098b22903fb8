"""What every platform fake shares: scripted faults and a 'commit, then drop the connection'."""

from __future__ import annotations

from typing import Any

from .http import LoopbackServer, Reply, Request


class Platform(LoopbackServer):
    """`faults`: for the next writes, a Reply to answer instead, "commit-then-drop" (do the
    write, then close the connection unanswered: the client's timeout-after-success), or None
    (this write goes through: lets a fault hit the second or third step)."""

    def __init__(self) -> None:
        super().__init__()
        self.faults: list[Reply | str | None] = []
        self.posts: list[dict[str, Any]] = []
        self.writes = 0

    def write(self, request: Request, do: Any) -> Reply | None:
        """Run one write (`do()` -> Reply) through the scripted faults."""
        with self.lock:
            self.writes += 1
            fault = self.faults.pop(0) if self.faults else None
            if isinstance(fault, Reply):
                return fault
            reply: Reply = do()
        return None if fault == "commit-then-drop" and reply.status < 300 else reply
