"""`syndicate doctor`: the config checked against the world, one line per check.

Redis reachable and persistent, each source's feed fetched and parsed, each target's
credentials tried with the platform's own who-am-I (or, for email, a login). Nothing is sent.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass

import requests

from .config import Config
from .errors import SyndicateError
from .fetch import fetch
from .parse import parse_feed
from .runtime import Runtime
from .targets.http import HttpTarget


@dataclass(frozen=True)
class Check:
    ok: bool
    what: str
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.what}: {self.detail}"


def run(rt: Runtime) -> Iterator[Check]:
    yield from _redis(rt)
    for src in rt.config.enabled_sources:
        if src.url:
            yield _source(rt.config, src.name)
        else:
            yield Check(True, f"source {src.name}", "a Ghost webhook source: Ghost pushes each "
                        "post to POST /hooks/ghost?source=" + src.name)
    for cfg in rt.config.enabled_targets:
        yield _target(rt, cfg.name)


def _redis(rt: Runtime) -> Iterator[Check]:
    try:
        info = rt.redis.info("persistence")
    except Exception as exc:
        yield Check(False, "redis", f"unreachable: {exc.__class__.__name__}: {exc}")
        return
    yield Check(True, "redis", f"reachable ({rt.redis.info('server').get('redis_version')})")
    aof = str(info.get("aof_enabled")) in ("1", "True")
    yield Check(aof, "redis persistence",
                "AOF on: the delivery ledger survives a crash" if aof else
                "AOF off: a restart can forget what was sent (appendonly yes, appendfsync "
                "always)")


def _source(cfg: Config, name: str) -> Check:
    src = cfg.source(name)
    assert src is not None
    try:
        fetched = fetch(src.url, timeout=src.timeout, max_bytes=src.max_bytes,
                        allow_private=src.allow_private)
        feed = parse_feed(fetched.body, fetched.url, name, fetched.content_type)
    except SyndicateError as exc:
        return Check(False, f"source {name}", str(exc))
    newest = max(feed.entries, key=lambda e: e.published, default=None)
    return Check(True, f"source {name}", f"{feed.title!r}, {len(feed.entries)} entries"
                 + (f", newest {newest.title!r}" if newest else ""))


def _target(rt: Runtime, name: str) -> Check:
    adapter = rt.dispatcher.target(name)
    what = f"target {name} ({adapter.kind})"
    if isinstance(adapter, HttpTarget):  # the HTTP base, not a concrete adapter
        probe = adapter.whoami()
        if probe is None:
            return Check(True, what, "no who-am-I call on this platform: checked on first send")
        prepared = adapter.prepare(probe)
        try:
            resp = adapter.exchange(prepared)
        except requests.RequestException as exc:
            return Check(False, what, f"cannot reach {adapter.describe(prepared.url)}: "
                         f"{exc.__class__.__name__}")
        if 200 <= resp.status_code < 300:
            return Check(True, what, "credentials accepted")
        return Check(False, what, rt.redactor.redact(
            f"credentials rejected (HTTP {resp.status_code}): {adapter.error_message(resp)}"))
    opts = adapter.opts
    if adapter.kind == "smtp":
        try:
            cls = smtplib.SMTP_SSL if opts.get("security") == "tls" else smtplib.SMTP
            conn = cls(str(opts["host"]), int(opts["port"]), timeout=10)
            conn.ehlo()
            if opts.get("security") == "starttls":
                conn.starttls()
            if opts.get("username"):
                conn.login(str(opts["username"]), str(opts.get("password") or ""))
            conn.quit()
        except (OSError, smtplib.SMTPException) as exc:
            return Check(False, what, rt.redactor.redact(f"{exc.__class__.__name__}: {exc}"))
        return Check(True, what, "server answers" + (" and the login works"
                                                     if opts.get("username") else ""))
    return Check(True, what, "nothing to check before the first send")
