"""Bounded, conditional HTTP fetches of feeds (and, later, post pages).

feedparser is never handed a URL: we fetch with `requests` so that timeouts, the size cap,
redirect handling and conditional GET are ours to control, then give feedparser the bytes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from . import __version__
from .errors import FetchError
from .session import Session

USER_AGENT = f"syndicate/{__version__} (+https://github.com/syndicate-posse/syndicate)"
CHUNK = 64 * 1024
MAX_REDIRECTS = 5


def _shutdown(resp: requests.Response) -> None:
    """Close the socket under a response from another thread, so a blocked read returns."""
    try:
        sock = resp.raw._connection.sock  # type: ignore[union-attr]
        sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        resp.close()


class UnsafeURL(FetchError):
    """The URL names an address syndicate will not fetch from (SSRF guard)."""


def _parse_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:  # 0x7f000001, 2130706433, 127.1: spellings inet_aton accepts and browsers follow
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse non-http(s) schemes and, unless allowed, any host that is or resolves to a
    loopback, private, link-local or otherwise non-public address."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(url, f"refusing scheme {parts.scheme or '(none)'!r}: only http and https")
    host = parts.hostname or ""
    if not host:
        raise UnsafeURL(url, "no host in URL")
    if allow_private:
        return
    hint = " (set allow_private = true to allow it)"
    ip = _parse_ip(host)
    if ip is not None:
        if _private(ip):
            raise UnsafeURL(url, f"refusing {host}: {ip} is not a public address{hint}")
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(url, f"cannot resolve {host}: {exc}") from None
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if _private(addr):
            raise UnsafeURL(url, f"refusing {host}: it resolves to {addr}, not a public address{hint}")


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 20.0,
    max_bytes: int = 10 * 1024 * 1024,
    session: requests.Session | None = None,
    accept: str = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5",
    allow_private: bool = False,
) -> Fetched:
    """GET `url` with conditional headers; raise `FetchError` on anything but 200 or 304.

    Redirects are followed by hand so that every hop passes `check_url`. The size cap applies
    to the decoded body, so a small gzip bomb cannot blow up memory.
    """
    if session is not None:
        return _fetch(url, etag, last_modified, timeout, max_bytes, session, accept, allow_private)
    with Session() as own:
        return _fetch(url, etag, last_modified, timeout, max_bytes, own, accept, allow_private)


def _fetch(url: str, etag: str | None, last_modified: str | None, timeout: float,
           max_bytes: int, http: requests.Session, accept: str, allow_private: bool) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept": accept, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    started = time.monotonic()
    target = url
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(target, allow_private=allow_private)
        try:
            # Prepared by itself, not by the session: a feed needs none of the session's cookies
            # or default headers, and merging them costs more than the rest of a 304 poll.
            prepared = requests.Request("GET", target, headers=headers).prepare()
            resp = http.send(prepared, timeout=(min(timeout, 10.0), timeout), stream=True,
                             allow_redirects=False)
        except requests.Timeout:
            raise FetchError(url, f"timed out after {timeout:g}s") from None
        except requests.RequestException as exc:
            raise FetchError(url, f"cannot connect: {exc.__class__.__name__}: {exc}") from None
        if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
            target = urljoin(target, resp.headers["Location"])
            resp.close()
            continue
        break
    else:
        raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")
    with resp:
        if resp.status_code == 304:
            # A 304 has no body; reading that nothing lets the connection go back to the pool
            # (closing an unread streamed response would close the connection instead).
            _ = resp.content
            return Fetched(resp.url, 304, b"", etag, last_modified)
        if resp.status_code != 200:
            raise FetchError(url, f"HTTP {resp.status_code} {resp.reason}",
                             status=resp.status_code, response=resp)
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(url, f"body of {declared} bytes is over the {max_bytes}-byte cap",
                             status=200, response=resp)
        chunks, size = [], 0
        # A server that drips a byte at a time never trips the read timeout, and urllib3 keeps
        # reading until a chunk is full: a watchdog closes the connection at the deadline.
        budget = timeout * 2
        expired = threading.Event()

        def cut() -> None:
            expired.set()
            _shutdown(resp)

        watchdog = threading.Timer(max(0.0, started + budget - time.monotonic()), cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            for chunk in resp.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, f"body is over the {max_bytes}-byte cap",
                                     status=200, response=resp)
                chunks.append(chunk)
        except (requests.RequestException, OSError, AttributeError, ValueError) as exc:
            if expired.is_set():
                raise FetchError(url, f"body took longer than {budget:g}s", status=200,
                                 response=resp) from None
            raise FetchError(url, f"body cut off: {exc}", status=200, response=resp) from None
        finally:
            watchdog.cancel()
        if expired.is_set():
            raise FetchError(url, f"body took longer than {budget:g}s", status=200,
                             response=resp)
        return Fetched(
            url=resp.url,
            status=200,
            body=b"".join(chunks),
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            content_type=resp.headers.get("Content-Type"),
        )
