"""Email over SMTP (RFC 5321), one message per entry, HTML and plain-text alternatives.

The SMTP exchange is split by phase so the outcome is never guessed: a failure before `DATA` is
sent is safe to retry; a connection lost after the message went out is ambiguous (the server may
have queued it) and becomes `unknown`. The `Message-ID` is derived from (entry, target), so a
resend a person chooses to make is recognisable as the same message.
"""

from __future__ import annotations

import functools
import os
import smtplib
import ssl
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any, ClassVar

from .. import mime
from ..entry import Entry
from ..errors import AmbiguousError, ConfigError, PermanentError, TargetBroken, TransientError
from ..mail import render_email
from .base import Attempt, DeliveryResult, Target
from .options import Option

IDLE_CLOSE = 30.0  # a kept connection unused this long is closed, not trusted (servers time out)
MAX_CONNECTIONS = 4  # per worker process and server, unless the target says otherwise


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


class Sessions:
    """The SMTP sessions one worker process keeps to one server, shared by all its threads.

    At most `limit` are open at once, however many threads the worker runs: mail servers
    refuse a client that opens too many (Postfix's default is 50 per client, hosted relays
    allow far fewer), and a session per thread would open one per thread. A thread that finds
    every slot busy waits for one. An idle session goes to the next message (the most recently
    used first), unless it sat idle for `IDLE_CLOSE`.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()

    def take(self, timeout: float) -> smtplib.SMTP | None:
        """Take a slot and the idle session in it, or None (connect one). Raises
        `TimeoutError` when every slot stayed busy for `timeout` seconds."""
        if not self._slots.acquire(timeout=timeout):
            raise TimeoutError(f"all {self.limit} connections busy")
        stale: list[smtplib.SMTP] = []
        try:
            with self._lock:
                while self._idle:
                    conn, used = self._idle.pop()
                    if time.monotonic() - used < IDLE_CLOSE:
                        return conn
                    stale.append(conn)
            return None
        finally:
            for conn in stale:
                _quit(conn)

    def give(self, conn: smtplib.SMTP | None) -> None:
        """Give the slot back, with `conn` kept for the next message (None: nothing to keep)."""
        if conn is not None:
            with self._lock:
                self._idle.append((conn, time.monotonic()))
        self._slots.release()

    def close(self) -> None:
        """Close the idle sessions. One in use goes back idle when its message is done, and
        is closed by a later `close` or after `IDLE_CLOSE` (or with the process)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _quit(conn)


_SESSIONS: dict[tuple[Any, ...], Sessions] = {}
_SESSIONS_LOCK = threading.Lock()


def sessions_for(key: tuple[Any, ...], limit: int) -> Sessions:
    # Keyed by process too: a forked child must not write into its parent's sockets.
    key = (os.getpid(), limit, *key)
    with _SESSIONS_LOCK:
        found = _SESSIONS.get(key)
        if found is None:
            found = _SESSIONS[key] = Sessions(limit)
        return found


class SmtpTarget(Target):
    kind = "smtp"
    is_email = True
    newsletter = True
    # A message is a few milliseconds on a kept session, less than Celery's own work for a
    # task: a first run's or a backfill's emails go ten to a task.
    per_task = 10
    options: ClassVar[dict[str, Option]] = {
        "host": Option(str, required=True),
        "port": Option(int, default=None),
        "security": Option(str, default="starttls", choices=("none", "starttls", "tls")),
        "username": Option(str),
        "password": Option(str, secret=True),
        "from": Option(str, required=True, help='e.g. "Name <posts@example.org>"'),
        "to": Option(list),
        "to_file": Option(str),
        "reply_to": Option(str),
        "list_unsubscribe": Option(str),
        "verify_tls": Option(bool, default=True),
        "ca_file": Option(str, help="a CA bundle to trust, for a server with its own CA"),
        "max_connections": Option(int, default=MAX_CONNECTIONS,
                                  help="the most sessions one worker process opens to this "
                                  "server at once, whatever its threads"),
    }


    @classmethod
    def check_options(cls, raw: dict[str, Any], where: str) -> dict[str, Any]:
        out = super().check_options(raw, where)
        if not out.get("to") and not out.get("to_file"):
            raise ConfigError(f"{where}.to", "give 'to' (a list of addresses) or 'to_file'")
        for addr in out.get("to") or []:
            if not isinstance(addr, str) or "@" not in parseaddr(addr)[1]:
                raise ConfigError(f"{where}.to", f"not an email address: {addr!r}")
        if "@" not in parseaddr(out["from"])[1]:
            raise ConfigError(f"{where}.from", f"not an email address: {out['from']!r}")
        if out.get("port") is None:
            out["port"] = {"none": 25, "starttls": 587, "tls": 465}[out["security"]]
        if int(out.get("max_connections") or 0) < 1:
            raise ConfigError(f"{where}.max_connections", "must be 1 or more")
        return out

    @functools.cached_property
    def _sender(self) -> str:
        """The envelope sender: the address in `from`, parsed once."""
        return str(parseaddr(self.opts["from"])[1])

    @functools.cached_property
    def _to(self) -> list[str]:
        return [parseaddr(a)[1] or a for a in self.opts.get("to") or []]

    def recipients(self) -> list[str]:
        """Envelope recipients: `to`, and `to_file` read again for each message (a list people
        edit while the service runs)."""
        rcpts = list(self._to)
        if self.opts.get("to_file"):
            path = Path(self.opts["to_file"])
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise TransientError(f"cannot read to_file {path}: {exc}") from None
            rcpts += [parseaddr(ln)[1] or ln.strip() for ln in lines
                      if ln.strip() and not ln.startswith("#")]
        return rcpts

    @functools.cached_property
    def _fixed_headers(self) -> str:
        """The headers that are the same in every message to this target, written once."""
        sender = self.opts["from"]
        lines = [mime.address_list("From", [sender]),
                 mime.address_list("To", self.opts.get("to") or [
                     formataddr(("Subscribers", self._sender))])]
        if self.opts.get("reply_to"):
            lines.append(mime.address_list("Reply-To", [self.opts["reply_to"]]))
        if self.opts.get("list_unsubscribe"):
            unsub = self.opts["list_unsubscribe"]
            lines.append(mime.header("List-Unsubscribe", f"<{unsub}>"))
            if unsub.startswith("http"):  # RFC 8058 one-click
                lines.append(mime.header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        return "".join(lines)

    def message_id(self, attempt: Attempt) -> str:
        """Derived from (entry, target): the same on every attempt."""
        domain = self._sender.rpartition("@")[2] or "syndicate.invalid"
        return f"<{attempt.idempotency_key}@{domain}>"

    def message(self, entry: Entry, attempt: Attempt) -> bytes:
        html, text = render_email(entry, self.site, unsubscribe=self.opts.get("list_unsubscribe"))
        headers = [
            mime.header("Subject", entry.title),
            self._fixed_headers,
            mime.header("Date", format_datetime(datetime.now(UTC))),
            mime.header("Message-ID", self.message_id(attempt)),
            mime.header("List-Post", f"<{entry.link}>"),
            mime.header("X-Syndicate-Entry", entry.id),
        ]
        return mime.alternative(headers, text, html)

    def preview(self, entry: Entry, attempt: Attempt) -> str:
        msg = self.message(entry, attempt).decode("utf-8", errors="replace")
        rcpts = len(self.opts.get("to") or []) if not self.opts.get("to_file") else "to_file"
        head = f"SMTP {self.opts['host']}:{self.opts['port']} ({self.opts['security']}), " \
               f"recipients: {rcpts}\n"
        return head + self.mask(msg.replace("\r\n", "\n"))

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        # Built once per target, and only for TLS: loading the CA bundle is most of the CPU an
        # email costs when it is done for every message.
        ctx = ssl.create_default_context(cafile=self.opts.get("ca_file") or None)
        if not self.opts.get("verify_tls", True):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    @property
    def sessions(self) -> Sessions:
        """This process's sessions to this server (shared by the adapters of all threads)."""
        o = self.opts
        return sessions_for((self.config.name, o["host"], int(o["port"]), o["security"],
                             o.get("username") or ""), int(o["max_connections"]))

    def _mail_from(self, conn: smtplib.SMTP | None, sender: str
                   ) -> tuple[smtplib.SMTP, int, bytes]:
        """MAIL FROM, on the idle session when there is one. If the server closed it since (a
        disconnect, or 421), MAIL FROM is what finds out, and nothing of the message has gone
        yet: it asks again once on a new connection. This is instead of a NOOP round trip before
        every message."""
        if conn is not None:
            try:
                code, resp = conn.docmd("mail", f"FROM:<{sender}>")
            except (OSError, smtplib.SMTPServerDisconnected):
                code, resp = 421, b"closed"
            if code != 421:
                return conn, code, resp
            conn.close()
        conn = self._connect()
        try:
            code, resp = conn.docmd("mail", f"FROM:<{sender}>")
        except BaseException:
            conn.close()
            raise
        return conn, code, resp

    def close(self) -> None:
        self.sessions.close()

    def _connect(self) -> smtplib.SMTP:
        host, port, security = self.opts["host"], int(self.opts["port"]), self.opts["security"]
        ctx = self._tls if security in ("tls", "starttls") else None
        timeout = self.config.timeout
        conn: smtplib.SMTP
        if security == "tls":
            conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ctx)
        else:
            conn = smtplib.SMTP(host, port, timeout=timeout)
        try:
            conn.ehlo()
            if security == "starttls":
                conn.starttls(context=ctx)
                conn.ehlo()
            if self.opts.get("username"):
                conn.login(self.opts["username"], self.opts.get("password") or "")
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        msg = self.message(entry, attempt)
        rcpts = self.recipients()
        if not rcpts:
            raise PermanentError("no recipients: 'to' and 'to_file' are empty")
        where = f"smtp://{self.opts['host']}:{self.opts['port']}"
        sessions = self.sessions
        try:
            conn = sessions.take(self.config.timeout)
        except TimeoutError:
            raise TransientError(f"{where}: all {sessions.limit} connections of this worker "
                                 "stayed busy (max_connections)") from None
        done = False
        try:
            try:
                conn, code, resp = self._mail_from(conn, self._sender)
            except smtplib.SMTPAuthenticationError as exc:
                raise TargetBroken(f"{where}: login refused: {exc.smtp_code} "
                                   f"{_text(exc.smtp_error)}", status=exc.smtp_code) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise TransientError(f"{where}: cannot connect: {exc}") from None
            self._exchange(conn, code, resp, rcpts, msg, attempt, where)
            done = True
        finally:
            # After any failure the next message starts on a fresh connection.
            if not done and conn is not None:
                _quit(conn)
            sessions.give(conn if done else None)
        return DeliveryResult(remote_id=self.message_id(attempt))

    def _exchange(self, conn: smtplib.SMTP, code: int, resp: bytes, rcpts: list[str],
                  msg: bytes, attempt: Attempt, where: str) -> None:
        """RCPT TO and DATA after the MAIL FROM that got (`code`, `resp`)."""
        try:
            _check(code, resp, f"{where}: MAIL FROM")
            accepted = 0
            for rcpt in rcpts:
                # The address is bare already: smtplib's rcpt() would parse it again.
                code, resp = conn.docmd("rcpt", f"TO:<{rcpt}>")
                if code in (250, 251):
                    accepted += 1
                elif code >= 500 and len(rcpts) == 1:
                    raise PermanentError(f"{where}: RCPT TO {rcpt} refused: {code} {_text(resp)}",
                                         status=code)
            if not accepted:
                raise TransientError(f"{where}: no recipient accepted")
            attempt.on_wire()
            try:
                code, resp = conn.data(msg)
            except smtplib.SMTPDataError as exc:
                _check(exc.smtp_code, exc.smtp_error, f"{where}: DATA")
                raise
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                raise AmbiguousError(f"{where}: connection lost after the message was sent "
                                     f"({exc.__class__.__name__}); it may have been delivered"
                                     ) from None
            _check(code, resp, f"{where}: DATA")
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            raise TransientError(f"{where}: connection lost before sending: {exc}") from None


def _text(resp: bytes | str) -> str:
    return resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)


def _check(code: int, resp: bytes | str, what: str) -> None:
    if 200 <= code < 400:
        return
    message = f"{what}: {code} {_text(resp)}"
    if code >= 500:
        raise PermanentError(message, status=code)
    raise TransientError(message, status=code)

