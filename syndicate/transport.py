"""The transport for calls to a platform's API: requests' adapter interface, `http.client` under it.

A delivery is one small JSON request and one small answer, and at volume it is CPU, not the
network, that limits how many a worker makes: through requests' adapter and urllib3's pool a
loopback POST costs about 0.40 ms of CPU, the same exchange on a kept `http.client` connection
about 0.15 (`bench/RESULTS.md`). This adapter makes the same exchange on kept connections of
its own and hands back the same `requests.Response`, so adapters, error handling and tests see
no difference. It also bounds what a platform may send back: an answer over `MAX_REPLY` bytes,
or one still arriving after its deadline, is cut off rather than read into memory for as long as
the other side cares to send.

Only what API calls need takes this path: a request sent whole (not streamed) with a bytes body
or none, to an http(s) URL, without a proxy or a client certificate. Anything else (a feed is
streamed, so it is not) goes through urllib3 as `GuardedAdapter` always did. The SSRF guard acts
here as there: inside `guard.guarding`, a connection resolves its host once, refuses unless
every address is public, connects to the address it checked, and a connection opened without
the guard is never reused inside it.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
import time
import weakref
import zlib
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import certifi
import requests
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from . import guard
from .guard import GuardedAdapter

MAX_REPLY = 8 * 1024 * 1024  # far above any platform's answer to a post; a bound on memory
IDLE_PER_ORIGIN = 256  # kept connections per origin: more than a worker's threads


class ReplyTooLarge(requests.RequestException):
    """The platform's answer was over `MAX_REPLY` bytes: it was not read to its end."""


class ConnectFailed(requests.ConnectionError):
    """The connection could not be made: the request never left."""


class ConnectTimedOut(ConnectFailed, requests.ConnectTimeout):
    """The connection was not made in time: the request never left."""


class TLSFailed(ConnectFailed, requests.exceptions.SSLError):
    """The TLS handshake failed (a certificate not trusted, say): the request never left."""


@lru_cache(maxsize=16)
def tls_context(verify: bool | str) -> ssl.SSLContext:
    """One context per `verify` setting, as requests reads it: True checks against certifi's
    bundle, a path against that file or folder, False checks nothing. Built once: loading a
    bundle costs milliseconds of CPU."""
    if verify is False:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    where = certifi.where() if verify is True else verify
    if os.path.isdir(where):
        return ssl.create_default_context(capath=where)
    return ssl.create_default_context(cafile=where)


def _open(address: tuple[str, int], timeout: float | None,
          source_address: tuple[str, int] | None = None) -> socket.socket:
    host, port = address
    if not guard.active():
        return socket.create_connection(address, timeout, source_address)
    return guard.connect_checked(host, port, lambda addr: socket.create_connection(
        (addr, port), timeout, source_address))


class _Plain(http.client.HTTPConnection):
    checked = False  # opened inside the guard

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._create_connection = _open


class _TLS(http.client.HTTPSConnection):
    checked = False

    def __init__(self, host: str, port: int, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._create_connection = _open


Connection = _Plain | _TLS


def _dropped(conn: Connection) -> bool:
    """A kept connection the server has closed (or written to unasked) reads as ready."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # select() cannot watch a descriptor above 1023
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


def _headers(message: http.client.HTTPMessage) -> CaseInsensitiveDict[str]:
    """The answer's headers as requests gives them: a repeated header's values joined."""
    out: CaseInsensitiveDict[str] = CaseInsensitiveDict()
    for name, value in message.items():
        if name in out:
            out[name] = f"{out[name]}, {value}"
        else:
            out[name] = value
    return out


def _decode(body: bytes, encoding: str) -> bytes:
    """Undo a gzip or deflate content encoding (as urllib3 would), under the same cap."""
    if encoding in ("gzip", "x-gzip"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        d = zlib.decompressobj()
    else:
        return body
    try:
        out = d.decompress(body, MAX_REPLY + 1)
    except zlib.error:
        if encoding != "deflate":
            raise
        out = zlib.decompressobj(-zlib.MAX_WBITS).decompress(body, MAX_REPLY + 1)
    if len(out) > MAX_REPLY:
        raise ReplyTooLarge(f"the answer is over {MAX_REPLY} bytes once decoded")
    return out


class Transport(GuardedAdapter):
    """`GuardedAdapter` with API calls made on `http.client` connections it keeps."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._forked()
        _ALL.add(self)

    def _forked(self) -> None:
        # Also in a forked child (a prefork pool): a connection kept by the parent is the
        # parent's, and two processes writing one socket would mix their requests.
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, int, bool | str], list[Connection]] = {}

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Mapping[str, str] | None = None) -> requests.Response:
        body = request.body
        if (stream or cert or any((proxies or {}).values()) or not isinstance(timeout, tuple)
                or not (body is None or isinstance(body, bytes))
                or not isinstance(verify, bool | str)):
            return super().send(request, stream, timeout, verify, cert, proxies)
        url = request.url or ""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return super().send(request, stream, timeout, verify, cert, proxies)
        host = parts.hostname
        port = parts.port or (443 if scheme == "https" else 80)
        key = (scheme, host, port, verify if scheme == "https" else True)
        connect_timeout, read_timeout = timeout
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = self._take(key, connect_timeout, verify)
        try:
            return self._exchange(conn, key, request, path, body, read_timeout)
        except BaseException:
            conn.close()
            raise

    def _take(self, key: tuple[str, str, int, bool | str], connect_timeout: float | None,
              verify: bool | str) -> Connection:
        checking = guard.active()
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if (checking and not conn.checked) or _dropped(conn):
                    conn.close()
                    continue
                guard.under_deadline(conn.sock)
                return conn
        scheme, host, port, _ = key
        new: Connection = (_TLS(host, port, connect_timeout or 10.0, tls_context(verify))
                           if scheme == "https" else _Plain(host, port, connect_timeout or 10.0))
        new.timeout = connect_timeout
        try:
            new.connect()  # the guard's refusal (not an OSError) passes as it is
        except TimeoutError as exc:
            raise ConnectTimedOut(f"connecting to {host}:{port}: {exc}") from exc
        except ssl.SSLError as exc:
            raise TLSFailed(f"{host}:{port}: {exc}") from exc
        except OSError as exc:
            raise ConnectFailed(f"connecting to {host}:{port}: {exc}") from exc
        new.checked = checking
        guard.under_deadline(new.sock)
        return new

    def _exchange(self, conn: Connection, key: tuple[str, str, int, bool | str],
                  request: requests.PreparedRequest, path: str, body: bytes | None,
                  read_timeout: float | None) -> requests.Response:
        assert conn.sock is not None
        conn.sock.settimeout(read_timeout)
        started = time.perf_counter()
        try:
            conn.request(request.method or "GET", path, body, dict(request.headers))
            answer = conn.getresponse()
            if answer.length is not None and answer.length > MAX_REPLY:
                raise ReplyTooLarge(f"the answer declares {answer.length} bytes, over "
                                    f"{MAX_REPLY}", request=request)
            data = answer.read(MAX_REPLY + 1)
        except requests.RequestException:  # ours, above (requests' errors are OSErrors)
            raise
        except TimeoutError as exc:
            raise requests.ReadTimeout(f"no answer in {read_timeout} s: {exc}",
                                       request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise requests.ConnectionError(f"{exc.__class__.__name__}: {exc}",
                                           request=request) from exc
        if len(data) > MAX_REPLY:
            raise ReplyTooLarge(f"the answer is over {MAX_REPLY} bytes", request=request)
        if answer.length:  # http.client's read(n) returns what came before the connection ended
            raise requests.ConnectionError(
                f"the answer ended {answer.length} bytes short of its Content-Length",
                request=request)
        headers = _headers(answer.msg)
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding:
            try:
                data = _decode(data, encoding)
            except zlib.error as exc:
                raise requests.exceptions.ContentDecodingError(
                    f"the answer's {encoding} encoding is broken: {exc}", request=request) from exc
        if answer.will_close:
            conn.close()
        else:
            with self._lock:
                idle = self._idle.setdefault(key, [])
                if len(idle) < IDLE_PER_ORIGIN:
                    idle.append(conn)
                    conn = None  # type: ignore[assignment]
            if conn is not None:
                conn.close()
        resp = requests.Response()
        resp.status_code = answer.status
        resp.headers = headers
        resp.encoding = get_encoding_from_headers(headers)
        resp.reason = answer.reason
        resp.url = request.url or ""
        resp.request = request
        resp.connection = self
        resp._content = data
        resp._content_consumed = True  # type: ignore[attr-defined]  # not in the stubs
        resp.elapsed = timedelta(seconds=time.perf_counter() - started)
        return resp

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
        super().close()


_ALL: weakref.WeakSet[Transport] = weakref.WeakSet()


def _after_fork() -> None:
    for each in list(_ALL):
        each._forked()


os.register_at_fork(after_in_child=_after_fork)
