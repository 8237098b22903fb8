"""A small HTTP/1.1 server on an asyncio loop, for the benchmarks' stand-ins of remote sites.

The remote feeds and platforms the benchmarks stand in for do not run on our cores; a thread per
connection would. One event loop answers thousands of keep-alive requests, and a target that
"answers after 50 ms" waits on a timer, not in a thread, so what the figures measure is
syndicate's own cost.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


Reply = tuple[int, list[tuple[str, str]], bytes]
Handler = Callable[[Request], Awaitable[Reply]]


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 from a daemon thread; `.port`, `.stop()`."""

    def __init__(self, handler: Handler, port: int = 0) -> None:
        self.handler = handler
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.port = 0

        self._server: asyncio.Server | None = None

        async def start() -> None:
            self._server = await asyncio.start_server(self._connection, "127.0.0.1", port,
                                                      backlog=1024)
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()

        def run() -> None:
            self.loop.run_until_complete(start())
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
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

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop)
        self.thread.join(5)
