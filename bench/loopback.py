"""A small HTTP/1.1 server on an asyncio loop, for the benchmarks' stand-ins of remote sites.

The remote feeds and platforms the benchmarks stand in for do not run on our cores; a thread per
connection would. One event loop answers thousands of keep-alive requests, and a target that
"answers after 50 ms" waits on a timer, not in a thread, so what the figures measure is
syndicate's own cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


T = TypeVar("T")
Reply = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[Request], Awaitable[Reply]]


class EventLoop:
    """An asyncio loop in a daemon thread, which several servers can share: three stand-in
    targets on one loop take one thread's turns at the GIL, not three."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 from a daemon thread; `.port`, `.stop()`. Given `loop`, it
    serves from that loop's thread and leaves the loop running when it stops."""

    def __init__(self, handler: Handler, port: int = 0, loop: EventLoop | None = None) -> None:
        self.handler = handler
        self._owns_loop = loop is None
        self.runner = loop or EventLoop()
        self.loop = self.runner.loop
        self.thread = self.runner.thread
        self._tasks: set[asyncio.Task[None]] = set()

        async def start() -> asyncio.Server:
            return await asyncio.start_server(self._connection, "127.0.0.1", port, backlog=1024)

        self._server: asyncio.Server | None = self.runner.run(start())
        self.port = self._server.sockets[0].getsockname()[1]

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                status, out, payload = await self.handler(Request(method, path, headers, body))
                reply = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
                         *(f"{k}: {v}" for k, v in out), f"Content-Length: {len(payload)}"]
                writer.write(("\r\n".join(reply) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        except asyncio.CancelledError:  # stop(): end quietly
            return
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):  # a server stopped twice, or its loop gone
            self.runner.run(shutdown(), timeout=5)
        if self._owns_loop:
            self.runner.stop()
