"""The one outbound path for URLs syndicate did not get from its own config.

Feeds, their redirects, post pages, backfill pages (`fetch`) and WebSub hubs (`post_form`) all
go through here, inside the SSRF guard (`guard.py`), which checks the address each connection
actually reaches. feedparser is never handed a URL: we fetch with `requests` so that timeouts,
the size cap, redirect handling and conditional GET are ours to control, then give feedparser
the bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from . import __version__
from .errors import FetchError
from .guard import Deadline, UnsafeURL, check_url, guarding
from .session import Session, prepared_url

__all__ = ["Fetched", "UnsafeURL", "check_url", "fetch", "post_form"]

USER_AGENT = f"syndicate/{__version__} (+https://github.com/syndicate-posse/syndicate)"
CHUNK = 64 * 1024
MAX_REDIRECTS = 5


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
    # One deadline for everything: connect, headers, body and every redirect, whatever the
    # server does (a byte a second of headers never trips a per-read timeout).
    late = FetchError(url, f"took longer than {timeout:g}s (connect, headers and body "
                      "together)")
    with Deadline(timeout) as deadline:
        try:
            fetched = _get(url, headers, timeout, max_bytes, http, allow_private)
        except (FetchError, requests.RequestException, OSError, AttributeError,
                ValueError) as exc:
            if deadline.expired.is_set():
                raise late from None
            if isinstance(exc, FetchError):
                raise
            raise FetchError(url, f"cut off: {exc.__class__.__name__}: {exc}") from None
    # Cut off mid-headers, http.client may still make a response of what it had: never keep it.
    if deadline.expired.is_set():
        raise late
    return fetched


def _prepared_get(url: str, headers: dict[str, str]) -> requests.PreparedRequest:
    """A GET with only these headers. Prepared by itself, not by the session: a feed needs none
    of the session's cookies or default headers, and merging them cost more than the rest of a
    304 poll; nor the body, auth and cookie steps of `Request.prepare`, whose protocol checks
    cost as much again."""
    prepared = requests.PreparedRequest()
    prepared.prepare_method("GET")
    prepared.url = prepared_url(url)
    prepared.prepare_headers(headers)
    prepared.prepare_cookies(None)  # an empty jar: the session stores a response's cookies in it
    prepared.body = None
    prepared.hooks = {"response": []}
    return prepared


def _get(url: str, headers: dict[str, str], timeout: float, max_bytes: int,
         http: requests.Session, allow_private: bool) -> Fetched:
    target = url
    for _hop in range(MAX_REDIRECTS + 1):
        check_url(target, allow_private=allow_private)
        try:
            prepared = _prepared_get(target, headers)
            with guarding(allow_private):
                resp = http.send(prepared, timeout=(min(timeout, 10.0), timeout), stream=True,
                                 allow_redirects=False)
        except requests.Timeout:
            raise FetchError(url, f"timed out after {timeout:g}s") from None
        except requests.RequestException as exc:
            raise FetchError(url, f"cannot connect: {exc.__class__.__name__}: {exc}") from None
        except UnsafeURL as exc:  # the connection's own check: name the URL, not only the host
            raise UnsafeURL(target, str(exc).split(": ", 1)[-1]) from None
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
            return Fetched(resp.url, 304, b"", headers.get("If-None-Match"),
                           headers.get("If-Modified-Since"))
        if resp.status_code != 200:
            raise FetchError(url, f"HTTP {resp.status_code} {resp.reason}",
                             status=resp.status_code, response=resp)
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(url, f"body of {declared} bytes is over the {max_bytes}-byte cap",
                             status=200, response=resp)
        chunks, size = [], 0
        try:
            for chunk in resp.iter_content(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, f"body is over the {max_bytes}-byte cap",
                                     status=200, response=resp)
                chunks.append(chunk)
        except (requests.RequestException, OSError) as exc:
            raise FetchError(url, f"body cut off: {exc}", status=200, response=resp) from None
        return Fetched(
            url=resp.url,
            status=200,
            body=b"".join(chunks),
            etag=resp.headers.get("ETag"),
            last_modified=resp.headers.get("Last-Modified"),
            content_type=resp.headers.get("Content-Type"),
        )


def post_form(url: str, form: list[tuple[str, str]] | dict[str, str], *, timeout: float = 15.0,
              session: requests.Session | None = None, allow_private: bool = False) -> int:
    """POST a form (a WebSub hub request) through the guard; the answer's status code.

    Redirects are not followed (a hub has no business sending its subscribers elsewhere), and
    nothing of the answer's body is kept or logged: it is whatever the named server chose.
    """
    check_url(url, allow_private=allow_private)
    own = session is None
    http = session or Session()
    try:
        prepared = requests.Request("POST", url, data=form,
                                    headers={"User-Agent": USER_AGENT}).prepare()
        with Deadline(timeout), guarding(allow_private):
            resp = http.send(prepared, timeout=(min(timeout, 10.0), timeout), stream=True,
                             allow_redirects=False)
        resp.close()
        return resp.status_code
    except requests.Timeout:
        raise FetchError(url, f"timed out after {timeout:g}s") from None
    except requests.RequestException as exc:
        raise FetchError(url, f"cannot connect: {exc.__class__.__name__}") from None
    except UnsafeURL as exc:
        raise UnsafeURL(url, str(exc).split(": ", 1)[-1]) from None
    finally:
        if own:
            http.close()
