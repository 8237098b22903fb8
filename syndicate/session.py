"""The HTTP session every outgoing request uses: `requests.Session`, reading the environment once.

requests honours `HTTP(S)_PROXY`, `NO_PROXY` and `REQUESTS_CA_BUNDLE`, but re-reads and re-parses
the whole environment on every request, a cost that grows with the environment and shows in
every poll and delivery. The variables do not change under a running process (a restart picks up
new ones), so this session resolves them once per origin and reuses the answer; it applies them
to `send` too, where requests itself would not read the CA bundle at all.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from http.cookiejar import CookiePolicy, DefaultCookiePolicy
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import resolve_proxies

from .transport import Transport


@functools.lru_cache(maxsize=256)
def _url(url: str, params: tuple[tuple[Any, Any], ...]) -> str:
    prepared = requests.PreparedRequest()
    prepared.prepare_url(url, list(params) or None)
    return prepared.url or url


def prepared_url(url: str, params: Any = None) -> str:
    """`url` with `params` as `PreparedRequest.prepare_url` writes it (IDNA host, quoting, the
    query), remembered: the same few URLs (a source's feed, a target's endpoint) come back on
    every poll and delivery, and preparing one costs more than a quarter of a request's own
    preparation. Errors are not remembered: a bad URL raises every time."""
    if not params:
        return _url(url, ())
    try:
        key = tuple(params.items() if isinstance(params, Mapping) else params)
        hash(key)
    except TypeError:  # a list of values for a name: not a cache key, prepared as it is
        prepared = requests.PreparedRequest()
        prepared.prepare_url(url, params)
        return prepared.url or url
    return _url(url, key)


class _NoCookies(DefaultCookiePolicy):
    """Keeps no cookie: every request here is prepared without the session's, so a site's
    Set-Cookie would only pile up in memory, poll after poll, for as long as we run."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


class Session(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        policy: CookiePolicy = _NoCookies()
        self.cookies.set_policy(policy)
        # Every connection can be checked by the SSRF guard; it acts inside `guard.guarding`.
        self.mount("http://", Transport())
        self.mount("https://", Transport())
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}
        # What requests takes from the environment on its merging path, applied to every send.
        self.verify = (os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                       or True)

    def environ_proxies(self, url: str) -> dict[str, str]:
        """What requests would resolve for this URL's origin, computed on its first request."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        found = self._proxies.get(key)
        if found is None:
            # resolve_proxies reads only `.url` of the request it is given.
            found = resolve_proxies(SimpleNamespace(url=url), self.proxies,  # type: ignore[arg-type]
                                    self.trust_env)
            self._proxies[key] = found
        return found

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if "proxies" not in kwargs:
            kwargs["proxies"] = self.environ_proxies(request.url or "")
        if kwargs.get("allow_redirects", True) or self.hooks["response"] or request.hooks.get(
                "response"):
            return super().send(request, **kwargs)
        # A request that follows no redirect and has no hooks: straight to the adapter. What
        # requests' `send` adds around it (redirect lookups, hooks, copying cookies into a jar
        # nothing reads, timing) serves none of our requests. With the adapter's remembered
        # pools, a 304 poll runs 11% fewer instructions.
        kwargs.pop("allow_redirects")
        stream = kwargs.setdefault("stream", self.stream)
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("cert", self.cert)
        resp = self.get_adapter(url=request.url or "").send(request, **kwargs)
        if not stream:
            resp.content  # noqa: B018 - read now, as requests does, so the connection is freed
        return resp

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any,
                                   verify: Any, cert: Any) -> Any:
        if self.trust_env:
            if not proxies:  # a caller's own proxies take requests' own (uncached) path
                text = url.decode() if isinstance(url, bytes) else url or ""
                proxies = dict(self.environ_proxies(text))
            else:
                return super().merge_environment_settings(url, proxies, stream, verify, cert)
            if verify is True:
                verify = self.verify
        return {"proxies": _merge(proxies, self.proxies),
                "stream": _merge(stream, self.stream),
                "verify": _merge(verify, self.verify),
                "cert": _merge(cert, self.cert)}


def _merge(request_setting: Any, session_setting: Any) -> Any:
    """requests' `merge_setting`: the request's value wins; dicts merge, None drops a key."""
    if session_setting is None:
        return request_setting
    if request_setting is None:
        return session_setting
    if not (isinstance(request_setting, dict) and isinstance(session_setting, dict)):
        return request_setting
    merged = {**session_setting, **request_setting}
    return {k: v for k, v in merged.items() if v is not None}
