"""Email over SMTP (RFC 5321), one message per entry, HTML and plain-text alternatives.

The SMTP exchange is split by phase so the outcome is never guessed: a failure before `DATA` is
sent is safe to retry; a connection lost after the message went out is ambiguous (the server may
have queued it) and becomes `unknown`. The `Message-ID` is derived from (entry, target), so a
resend a person chooses to make is recognisable as the same message.
"""

from __future__ import annotations

import email.policy
import functools
import smtplib
import ssl
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any, ClassVar

from ..config import SiteConfig, TargetConfig
from ..entry import Entry
from ..errors import AmbiguousError, ConfigError, PermanentError, TargetBroken, TransientError
from ..mail import render_email
from .base import Attempt, DeliveryResult, Target
from .options import Option

IDLE_CLOSE = 30.0  # a kept connection unused this long is closed, not trusted (servers time out)


class SmtpTarget(Target):
    kind = "smtp"
    is_email = True
    newsletter = True
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
    }

    def __init__(self, config: TargetConfig, site: SiteConfig) -> None:
        super().__init__(config, site)
        self._conn: smtplib.SMTP | None = None  # one per worker thread: adapters are per thread
        self._used_at = 0.0

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
        return out

    def recipients(self) -> list[str]:
        rcpts = list(self.opts.get("to") or [])
        if self.opts.get("to_file"):
            path = Path(self.opts["to_file"])
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise TransientError(f"cannot read to_file {path}: {exc}") from None
            rcpts += [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
        return rcpts

    def message(self, entry: Entry, attempt: Attempt) -> EmailMessage:
        sender = self.opts["from"]
        domain = parseaddr(sender)[1].rpartition("@")[2] or "syndicate.invalid"
        html, text = render_email(entry, self.site, unsubscribe=self.opts.get("list_unsubscribe"))
        msg = EmailMessage()
        msg["Subject"] = entry.title
        msg["From"] = sender
        msg["To"] = ", ".join(self.opts.get("to") or []) or formataddr(
            ("Subscribers", parseaddr(sender)[1]))
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{attempt.idempotency_key}@{domain}>" if domain else make_msgid()
        if self.opts.get("reply_to"):
            msg["Reply-To"] = self.opts["reply_to"]
        if self.opts.get("list_unsubscribe"):
            unsub = self.opts["list_unsubscribe"]
            msg["List-Unsubscribe"] = f"<{unsub}>"
            if unsub.startswith("http"):
                msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        msg["List-Post"] = f"<{entry.link}>"
        msg["X-Syndicate-Entry"] = entry.id
        # quoted-printable keeps every line under SMTP's 998-octet limit (RFC 5322 2.1.1).
        msg.set_content(text, cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        return msg

    def preview(self, entry: Entry, attempt: Attempt) -> str:
        msg = self.message(entry, attempt)
        rcpts = len(self.opts.get("to") or []) if not self.opts.get("to_file") else "to_file"
        head = f"SMTP {self.opts['host']}:{self.opts['port']} ({self.opts['security']}), " \
               f"recipients: {rcpts}\n"
        return head + self.mask(msg.as_string())

    @functools.cached_property
    def _tls(self) -> ssl.SSLContext:
        # Built once per target, and only for TLS: loading the CA bundle is most of the CPU an
        # email costs when it is done for every message.
        ctx = ssl.create_default_context(cafile=self.opts.get("ca_file") or None)
        if not self.opts.get("verify_tls", True):
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def _connection(self) -> smtplib.SMTP:
        """The connection this worker thread keeps to the server: checked with NOOP before each
        message, opened again if it went away or sat idle too long."""
        conn = self._conn
        if conn is not None:
            if time.monotonic() - self._used_at < IDLE_CLOSE:
                try:
                    if conn.noop()[0] == 250:
                        return conn
                except (OSError, smtplib.SMTPException):
                    pass
            self._drop()
        self._conn = self._connect()
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                conn.close()

    def close(self) -> None:
        self._drop()

    def _connect(self) -> smtplib.SMTP:
        host, port, security = self.opts["host"], int(self.opts["port"]), self.opts["security"]
        ctx = self._tls if security in ("tls", "starttls") else None
        timeout = self.config.timeout
        conn: smtplib.SMTP
        if security == "tls":
            conn = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ctx)
        else:
            conn = smtplib.SMTP(host, port, timeout=timeout)
        conn.ehlo()
        if security == "starttls":
            conn.starttls(context=ctx)
            conn.ehlo()
        if self.opts.get("username"):
            conn.login(self.opts["username"], self.opts.get("password") or "")
        return conn

    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        msg = self.message(entry, attempt)
        rcpts = self.recipients()
        if not rcpts:
            raise PermanentError("no recipients: 'to' and 'to_file' are empty")
        where = f"smtp://{self.opts['host']}:{self.opts['port']}"
        try:
            conn = self._connection()
        except smtplib.SMTPAuthenticationError as exc:
            raise TargetBroken(f"{where}: login refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                               status=exc.smtp_code) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientError(f"{where}: cannot connect: {exc}") from None
        try:
            sender = parseaddr(self.opts["from"])[1]
            code, resp = conn.mail(sender)
            _check(code, resp, f"{where}: MAIL FROM")
            accepted = 0
            for rcpt in rcpts:
                code, resp = conn.rcpt(parseaddr(rcpt)[1] or rcpt)
                if code in (250, 251):
                    accepted += 1
                elif code >= 500 and len(rcpts) == 1:
                    raise PermanentError(f"{where}: RCPT TO {rcpt} refused: {code} {_text(resp)}",
                                         status=code)
            if not accepted:
                raise TransientError(f"{where}: no recipient accepted")
            attempt.on_wire()
            try:
                code, resp = conn.data(msg.as_bytes(policy=email.policy.SMTP))
            except smtplib.SMTPDataError as exc:
                _check(exc.smtp_code, exc.smtp_error, f"{where}: DATA")
                raise
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                raise AmbiguousError(f"{where}: connection lost after the message was sent "
                                     f"({exc.__class__.__name__}); it may have been delivered"
                                     ) from None
            _check(code, resp, f"{where}: DATA")
        except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError) as exc:
            self._drop()
            raise TransientError(f"{where}: connection lost before sending: {exc}") from None
        except BaseException:
            self._drop()  # after any failure, the next message starts on a fresh connection
            raise
        self._used_at = time.monotonic()
        return DeliveryResult(remote_id=msg["Message-ID"])


def _text(resp: bytes | str) -> str:
    return resp.decode(errors="replace") if isinstance(resp, bytes) else str(resp)


def _check(code: int, resp: bytes | str, what: str) -> None:
    if 200 <= code < 400:
        return
    message = f"{what}: {code} {_text(resp)}"
    if code >= 500:
        raise PermanentError(message, status=code)
    raise TransientError(message, status=code)

