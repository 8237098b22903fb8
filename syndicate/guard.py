"""The SSRF guard: no request to a URL from outside reaches an address that is not public.

Feeds, redirects, post pages, hubs and backfill pages all name URLs that someone else chose. A
check of the name before the request is not enough: the name is resolved again to connect, and
a name that answers a public address to the check and 127.0.0.1 to the connection (DNS
rebinding) walks straight past it. So the guard sits where the socket is made: the connection
resolves the name once, refuses unless every address is public, and connects to exactly the
address it checked, while TLS and the Host header keep the name.

`guarding(allow_private)` turns the guard on for the requests made inside it (`fetch` does);
requests to the operator's own configured targets are made outside it. A connection opened
without the guard is never reused inside it.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import ipaddress
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# True inside `guarding(allow_private=False)`: connections made then must reach public addresses.
_ACTIVE: contextvars.ContextVar[bool] = contextvars.ContextVar("syndicate_guard", default=False)
HINT = " (set allow_private = true to allow it)"


class UnsafeURL(FetchError):
    """The URL names an address syndicate will not fetch from (SSRF guard)."""


def parse_ip(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        pass
    try:  # 0x7f000001, 2130706433, 127.1: spellings inet_aton accepts and browsers follow
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def private(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def public_addresses(host: str, port: int, url: str = "") -> list[str]:
    """Resolve `host` once; every address must be public (one private answer refuses all, as
    a resolver may hand out either). Returns them in the resolver's order."""
    ip = parse_ip(host)
    if ip is not None:
        if private(ip):
            raise UnsafeURL(url or host, f"refusing {host}: {ip} is not a public address{HINT}")
        return [str(ip)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(url or host, f"cannot resolve {host}: {exc}") from None
    out: list[str] = []
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if private(addr):
            raise UnsafeURL(url or host,
                            f"refusing {host}: it resolves to {addr}, not a public address{HINT}")
        if str(addr) not in out:
            out.append(str(addr))
    return out


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse non-http(s) schemes and, unless allowed, a host that is or resolves to a loopback,
    private, link-local or otherwise non-public address. An early, clear answer: the connection
    checks again, for the address it actually connects to."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(url, f"refusing scheme {parts.scheme or '(none)'!r}: only http and https")
    host = parts.hostname or ""
    if not host:
        raise UnsafeURL(url, "no host in URL")
    if not allow_private:
        public_addresses(host, parts.port or (443 if parts.scheme == "https" else 80), url)


@contextlib.contextmanager
def guarding(allow_private: bool = False) -> Iterator[None]:
    token = _ACTIVE.set(not allow_private)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def active() -> bool:
    return _ACTIVE.get()


class _Flag:
    """`threading.Event`'s `set` and `is_set`, for a flag nobody waits on: an Event builds a
    condition and a lock, a tenth of a deadline's cost, and a deadline comes with every
    request."""

    __slots__ = ("_set",)

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


class Deadline:
    """One deadline for a whole request (connect, TLS, headers, body, every redirect hop).

    urllib3's timeouts are per socket operation: a server that sends its headers or its body a
    byte a second never trips them. Every socket a request opens or reuses inside the deadline
    is registered here, and when the time is up they are all shut down, so whatever read is
    blocked on them returns at once. (A name lookup cannot be cut off this way; the resolver's
    own timeout bounds it.) The process's one watchdog thread keeps the time.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = _Flag()
        self.done = False  # the request ended: nothing of it may be cut any more
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._token: contextvars.Token[Deadline | None] | None = None

    def add(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.expired.is_set():
                _shutdown(sock)
            else:
                self._socks.append(sock)

    def _cut(self) -> None:
        with self._lock:
            if self.done:  # ended as the time ran out: its sockets are back in the pool
                return
            self.expired.set()
            for sock in self._socks:
                _shutdown(sock)

    def __enter__(self) -> Deadline:
        self._token = _DEADLINE.set(self)
        _WATCHDOG.watch(time.monotonic() + max(0.0, self.seconds), self)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.done = True
            self._socks = []  # the watchdog may hold this deadline until its time: not them
        if self._token is not None:
            _DEADLINE.reset(self._token)


class _Watchdog:
    """One thread that cuts every deadline of the process when its time comes. A timer thread
    for each request cost more CPU to start and stop (0.19 ms) than the rest of a 304 poll's
    HTTP; this is a heap and a condition variable."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # Also in a forked child (a prefork pool): the thread did not come along, and the
        # lock may have been held by it at the fork.
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._started = False

    def watch(self, when: float, deadline: Deadline) -> None:
        with self._cond:
            if not self._started:
                self._started = True
                threading.Thread(target=self._run, args=(self._cond, self._heap),
                                 name="syndicate-deadlines", daemon=True).start()
            heapq.heappush(self._heap, (when, next(self._seq), deadline))
            if self._heap[0][2] is deadline:  # sooner than what the thread waits for
                self._cond.notify()

    @staticmethod
    def _run(cond: threading.Condition, heap: list[tuple[float, int, Deadline]]) -> None:
        while True:
            due: list[Deadline] = []
            with cond:
                now = time.monotonic()
                while heap and (heap[0][2].done or heap[0][0] <= now):
                    _, _, deadline = heapq.heappop(heap)
                    if not deadline.done:
                        due.append(deadline)
                if not due:
                    cond.wait(heap[0][0] - now if heap else None)
            for deadline in due:
                deadline._cut()


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._reset)


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "syndicate_deadline", default=None)


def under_deadline(sock: socket.socket | None) -> None:
    """Put a socket a request opened or reused under the request's deadline, if it has one."""
    deadline = _DEADLINE.get()
    if deadline is not None and sock is not None:
        deadline.add(sock)


def connect_checked(host: str, port: int,
                    connect: Callable[[str], socket.socket]) -> socket.socket:
    """`connect(address)` to the first of `host`'s addresses that answers, once every one of
    them is checked public: the address just checked is the one connected to, so a second
    lookup (DNS rebinding) never comes into it. The caller keeps the name for the TLS server
    name, certificate check and Host header."""
    error: OSError | None = None
    for addr in public_addresses(host.rstrip("."), port):
        try:
            return connect(addr)
        except OSError as exc:  # refused or unreachable (urllib3's NewConnectionError): next
            error = exc
    assert error is not None
    raise error


class _Checked:
    """Mixed into urllib3's connections: resolve once, check, connect to that address."""

    unchecked = True  # opened without the guard (or not yet opened)
    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        sock = self._open()
        under_deadline(sock)
        return sock

    def _open(self) -> socket.socket:
        if not _ACTIVE.get():
            self.unchecked = True
            return super()._new_conn()  # type: ignore[misc, no-any-return]
        name = self._dns_host

        def to(addr: str) -> socket.socket:
            self._dns_host = addr  # urllib3 connects to `_dns_host`; the name comes back next
            try:
                return super(_Checked, self)._new_conn()  # type: ignore[misc, no-any-return]
            finally:
                self._dns_host = name

        sock = connect_checked(name, self.port, to)
        self.unchecked = False
        return sock


class GuardedHTTPConnection(_Checked, HTTPConnection):
    pass


class GuardedHTTPSConnection(_Checked, HTTPSConnection):
    pass


class _ReusesOnlyChecked:
    def _get_conn(self, timeout: float | None = None) -> Any:
        conn = super()._get_conn(timeout)  # type: ignore[misc]
        if _ACTIVE.get() and getattr(conn, "unchecked", False) and conn.sock is not None:
            conn.close()  # opened without the guard: reconnect, checked
        under_deadline(conn.sock)  # a kept-alive connection is under the deadline too
        return conn


class GuardedHTTPPool(_ReusesOnlyChecked, HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSPool(_ReusesOnlyChecked, HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """requests' adapter with guarded connection pools (the guard acts only inside `guarding`).
    Through a proxy, the proxy connects to the target: the guard then checks the proxy's
    address only, and `check_url` the target's name."""

    def init_poolmanager(self, connections: int, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(connections, *args, **kwargs)
        self._remembered = connections  # as many pools as the manager keeps
        self.poolmanager.pool_classes_by_scheme = {"http": GuardedHTTPPool,
                                                   "https": GuardedHTTPSPool}
        self._pools: dict[tuple[str, str, Any, Any], Any] = {}

    def get_connection_with_tls_context(self, request: PreparedRequest, verify: Any,
                                        proxies: Any = None, cert: Any = None) -> Any:
        """The pool for this origin, remembered. requests builds the pool manager's key from
        the request on every send (a dozen calls, under a lock); the answer only changes with
        the origin, `verify` and `cert`. No more pools are remembered than the manager keeps
        (`pool_connections`), so no more sockets stay open than without this; a closed pool
        (the session was closed: its `pool` is None) is asked for again."""
        if proxies:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        parts = urlsplit(request.url or "")
        key = (parts.scheme.lower(), parts.netloc.lower(), verify, cert)
        pool = self._pools.get(key)
        if pool is None or pool.pool is None:
            pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
            if len(self._pools) >= self._remembered:
                self._pools.clear()
            self._pools[key] = pool
        return pool

    def close(self) -> None:
        """Close the remembered pools' connections too: the pool manager only forgets its
        pools (urllib3 2 closes none), and a remembered one would keep its sockets open."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        super().close()

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """requests' response, without copying the server's cookies into a jar: nothing here
        sends cookies back (each request is prepared without the session's), and a feed's
        Set-Cookie headers would only cost a parse per request and memory per host."""
        response = Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode() if isinstance(req.url, bytes) else req.url  # type: ignore[assignment]
        response.request = req
        response.connection = self
        return response
