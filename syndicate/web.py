"""The HTTP face: reader feeds, the publish webhook, WebSub callbacks, the delivery list, health.

Routes (a contract; keep them): `GET /feed.xml`, `GET /feed.atom`, `GET /feed.json`,
`POST /hooks/publish`, `GET|POST /websub/<source>`, `GET /api/deliveries`, `GET /healthz`.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from flask import Flask, Response, jsonify, request

from . import admin, ghosthook, signing, websub
from .feed import FORMATS, FeedCache
from .runtime import Runtime

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger("syndicate.web")

BIND_ENV = "SYNDICATE_WEB_HOST"  # where `syndicate web` listens, for its server processes
WEBHOOK_REPLAY_TTL = 24 * 3600  # a webhook-id is remembered well past the timestamp window


def _error(status: int, message: str) -> Response:
    resp = jsonify({"error": message, "status": status})
    resp.status_code = status
    return resp


def _not_modified(req_etag: str | None, req_since: str | None, etags: tuple[str, ...],
                  last_mod: str) -> bool:
    if req_etag:
        tags = [t.strip().removeprefix("W/") for t in req_etag.split(",")]
        return "*" in tags or any(e in tags for e in etags)
    if req_since:
        try:
            return parsedate_to_datetime(last_mod) <= parsedate_to_datetime(req_since)
        except (TypeError, ValueError):
            return False
    return False


FEED_PATHS = {"/" + path: fmt for fmt, (path, _) in FORMATS.items()}


def _accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            try:
                return not q or float(q) > 0
            except ValueError:
                return False
    return False


class FeedFront:
    """Serves the reader feeds from the cache, under Flask, so that a reader costs a dict lookup
    and one write of bytes rendered (and gzipped) once per change, not a framework request."""

    def __init__(self, app: WSGIApplication, feeds: FeedCache) -> None:
        self.app = app
        self.feeds = feeds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        fmt = FEED_PATHS.get(environ.get("PATH_INFO", ""))
        if fmt is None:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Allow", "GET, HEAD"),
                                                      ("Content-Length", "0")])
            return [b""]
        rendered = self.feeds.get(fmt)
        gz = _accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        etag = rendered.gzip_etag if gz else rendered.etag
        headers = [("ETag", etag), ("Last-Modified", rendered.last_modified),
                   ("Cache-Control", "public, max-age=60"), ("Vary", "Accept-Encoding")]
        # Either representation's tag stands for the same content.
        if _not_modified(environ.get("HTTP_IF_NONE_MATCH"), environ.get("HTTP_IF_MODIFIED_SINCE"),
                         (rendered.etag, rendered.gzip_etag), rendered.last_modified):
            start_response("304 Not Modified", headers)
            return [b""]
        body = rendered.gzipped if gz else rendered.body
        headers += [("Content-Type", rendered.content_type), ("Content-Length", str(len(body)))]
        if gz:
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [b""] if method == "HEAD" else [body]


def loopback(host: str) -> bool:
    """True for a bind address only this machine can reach."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(rt: Runtime, *, feed_freshness: float = 1.0, exposed: bool = False) -> Flask:
    """`exposed`: the server listens where other machines reach it. Without an [admin] login,
    the status API (`/api/deliveries`, `/metrics`) is then off: it names every post, target
    and error, which is no business of the open network."""
    app = Flask("syndicate", template_folder=str(Path(__file__).parent / "templates"))
    app.config["MAX_CONTENT_LENGTH"] = rt.config.webhook.max_body
    admin.install(app, rt)
    feeds = FeedCache(rt.store, rt.config.site, freshness=feed_freshness)
    app.extensions["syndicate"] = rt
    app.extensions["syndicate.feeds"] = feeds

    app.wsgi_app = admin.TrustedProxies(  # type: ignore[method-assign]
        FeedFront(app.wsgi_app, feeds), rt.config.admin.trusted_proxies)

    @app.post("/hooks/publish")
    def publish() -> Response:
        secret = rt.config.webhook.secret
        if not secret:
            return _error(503, "webhook is not configured: set [webhook] secret")
        body = request.get_data(cache=False)
        try:
            msg_id = signing.verify(secret, {k.lower(): v for k, v in request.headers.items()}, body,
                                    tolerance=rt.config.webhook.tolerance)
        except signing.SignatureError as exc:
            log.warning("publish webhook refused: %s", exc)
            return _error(401, f"signature refused: {exc}")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "body is not JSON: expected {\"source\": NAME} or {\"url\": URL}")
        if not isinstance(payload, dict):
            return _error(400, "expected a JSON object {\"source\": NAME} or {\"url\": URL}")
        if payload.get("source"):
            src = rt.config.source(str(payload["source"]))
            if src is None or not src.enabled:
                return _error(404, f"unknown source {payload['source']!r}")
        elif payload.get("url"):
            src = rt.poller.match(str(payload["url"]))
            if src is None:
                return _error(404, f"no configured source has the URL {payload['url']!r}")
        else:
            return _error(400, "expected {\"source\": NAME} or {\"url\": URL}")
        # Checked after the source, so that a 404 can be corrected and sent again with the same id.
        if not first_sight(rt, msg_id, src.name):
            return _accepted({"status": "duplicate", "source": src.name, "webhook_id": msg_id})
        rt.queue.poll(src.name)
        log.info("publish webhook %s: polling %s", msg_id, src.name)
        return _accepted({"status": "accepted", "source": src.name, "webhook_id": msg_id})

    @app.post("/hooks/ghost")
    def ghost_hook() -> Response:
        """Ghost's `post.published` / `post.published.edited` webhook: the post is in the
        request, so it is stored and sent on now, with no poll."""
        name = request.args.get("source", "")
        hooked = [s for s in rt.config.enabled_sources if s.kind == "ghost_webhook"]
        src = rt.config.source(name) if name else (hooked[0] if len(hooked) == 1 else None)
        if src is None or not src.enabled or src.kind != "ghost_webhook" or not src.secret:
            return _error(404, "no Ghost webhook source by that name: add one with kind = "
                               "\"ghost_webhook\" and ?source=NAME in the webhook's URL")
        body = request.get_data(cache=False)
        try:
            ghosthook.verify(src.secret, request.headers.get("X-Ghost-Signature", ""), body)
        except ghosthook.GhostSignatureError as exc:
            log.warning("ghost webhook for %s refused: %s", src.name, exc)
            return _error(401, f"signature refused: {exc}")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            return _error(400, "body is not JSON: expected Ghost's {\"post\": {\"current\": ...}}")
        entry = ghosthook.entry_from(payload, src.name)
        if entry is None:
            return _accepted({"status": "ignored", "source": src.name,
                              "why": "not a published post"})
        entry_id, status = rt.accept(entry)
        return _accepted({"status": status, "source": src.name, "entry_id": entry_id})

    @app.get("/websub/<name>")
    def websub_verify(name: str) -> Response:
        """The hub checks that we asked for this subscription (WebSub section 5.3). Only a
        request syndicate made itself is confirmed: its topic and mode, while it is pending."""
        src = rt.config.source(name)
        topic = request.args.get("hub.topic", "")
        mode = request.args.get("hub.mode", "")
        challenge = request.args.get("hub.challenge", "")
        if src is None or not challenge or mode not in ("subscribe", "unsubscribe"):
            return _error(404, "no such subscription")
        state = rt.poller.state(name)
        if state.get("websub_pending") != mode or topic != state.get("websub_topic"):
            return _error(404, f"no pending {mode} request for {topic!r}")
        lease = websub.lease(request.args.get("hub.lease_seconds"))
        rt.redis.hset(rt.keys.source(name), mapping={
            "websub_lease_until": repr(time.time() + lease), "websub_pending": ""})
        return Response(challenge, status=200, content_type="text/plain")

    @app.post("/websub/<name>")
    def websub_push(name: str) -> Response:
        """A hub's push. Polls only for a subscription that is active, and only when the body is
        signed with the secret we gave that hub: anything else would let anyone make syndicate
        poll a blog at will."""
        src = rt.config.source(name)
        state = rt.poller.state(name) if src is not None and src.enabled else {}
        secret = state.get("websub_secret", "")
        if not secret or float(state.get("websub_lease_until") or 0) < time.time():
            return _error(404, "no such subscription")
        body = request.get_data(cache=False)
        if not signing.verify_hub(secret.encode(), request.headers.get("X-Hub-Signature", ""),
                                  body):
            log.warning("websub push for %s refused: missing or wrong X-Hub-Signature", name)
            return _error(403, "X-Hub-Signature missing or wrong")
        rt.queue.poll(name)
        return Response(status=202)

    def protected(f: Callable[..., Response]) -> Callable[..., Response]:
        # Behind the login once [admin] is set. Without it, open only to this machine's own
        # clients: a server that listens on the network serves the feeds, webhook and health.
        if rt.config.admin.enabled:
            guarded: Callable[..., Response] = app.extensions["syndicate.login_required"](f)
            return guarded

        @functools.wraps(f)
        def local_only(*args: Any, **kwargs: Any) -> Response:
            if exposed:
                return _error(403, "the status API is off on a public address: set [admin] "
                                   "password or token to turn it on")
            return f(*args, **kwargs)

        return local_only

    @app.get("/api/deliveries")
    @protected
    def deliveries() -> Response:
        limit = min(max(request.args.get("limit", 1000, type=int) or 1000, 1), 10000)
        items = rt.deliveries(limit=limit)
        for key in ("state", "target", "entry_id"):
            if request.args.get(key):
                items = [d for d in items if d[key] == request.args[key]]
        return jsonify(items)

    @app.get("/api/plan")
    @protected
    def plan() -> Response:
        """The next run as a dry run (`syndicate plan --json`): fetches, writes nothing."""
        from . import plan as plan_mod

        return jsonify(plan_mod.make(rt).as_dict())

    @app.get("/metrics")
    @protected
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        from .exposition import render
        return Response(render(rt.redis, rt.keys), content_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz")
    def healthz() -> Response:
        body: dict[str, Any] = {}
        try:
            rt.redis.ping()
            body["redis"] = "ok"
            body["workers"] = rt.workers_alive()
        except redis.RedisError as exc:
            body.update(redis=f"unreachable: {exc.__class__.__name__}", workers=None,
                        status="down")
            return Response(json.dumps(body), status=503, content_type="application/json")
        body["status"] = "ok" if body["workers"] else "degraded: no worker has checked in"
        return jsonify(body)

    return app


def first_sight(rt: Runtime, msg_id: str, source: str) -> bool:
    """True the first time a webhook-id is seen (Standard Webhooks: receivers dedupe by it)."""
    return bool(rt.redis.set(rt.keys.webhook_seen(msg_id), source, nx=True,
                             ex=WEBHOOK_REPLAY_TTL))


def _accepted(body: dict[str, Any]) -> Response:
    resp = jsonify(body)
    resp.status_code = 202
    return resp


def app_from_env() -> Flask:
    """The app for a server that loads it by name in its own worker process (`syndicate web`),
    from the config file the parent named in the environment."""
    from . import config as config_mod
    from . import logs

    if not logging.getLogger().handlers:  # a spawned, not forked, process
        logs.setup()
    from . import targets

    cfg = targets.check(config_mod.load(None))
    logs.mask(targets.secrets(cfg))
    host = os.environ.get(BIND_ENV, "127.0.0.1")
    return create_app(Runtime.open(cfg), exposed=not loopback(host))
