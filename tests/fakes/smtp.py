"""A real SMTP server on loopback (aiosmtpd), keeping every message it accepts."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.drop_after_data = 0  # accept the message, then drop the connection unanswered
        self.sessions = 0  # EHLOs seen: one per connection a client opened
        self.transports: list[Any] = []

    def close_sessions(self) -> None:
        """Close every open connection from the server's side, as a server does with idle ones."""
        for transport in self.transports:
            if not transport.is_closing():
                transport.close()

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.sessions += 1
        self.transports.append(server.transport)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(msg)
        self.envelopes.append(envelope)
        if self.drop_after_data > 0:
            self.drop_after_data -= 1
            session.transport.close() if hasattr(session, "transport") else None
            server.transport.close()
            return "421 closing"
        return "250 OK queued"


class SmtpServer:
    def __init__(self, **kwargs: Any) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **kwargs)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def close_sessions(self) -> None:
        loop = self.controller.loop
        loop.call_soon_threadsafe(self.inbox.close_sessions)
        time.sleep(0.2)  # the loop closes them on its own thread

    @property
    def messages(self) -> list[EmailMessage]:
        return self.inbox.messages
