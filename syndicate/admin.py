"""The status page: what went where, at a glance, and the buttons to settle what needs a person.

`GET /` lists recent entries with one cell per target (delivered with a link, pending, waiting
with when and why, unknown, dead with the platform's message, held), filterable by state and
target. Actions (`POST /actions/...`) retry, approve, discard and resolve. Everything here needs
a login (`[admin] password`) or `Authorization: Bearer <[admin] token>`; forms carry a CSRF
token tied to the session. Without an `[admin]` table the page is off.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from . import actions
from .errors import SyndicateError
from .runtime import Runtime
from .status import rows

F = TypeVar("F", bound=Callable[..., Any])
LOGIN_FAILURES = 10  # per address per window, then 429
LOGIN_FAILURES_ALL = 100  # from all addresses together: a ceiling for a spread-out guesser
LOGIN_WINDOW = 600
SESSION_DAYS = 7
_UNSAFE_NEXT = re.compile(r"[\x00-\x20\x7f\\]")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site, or "/".

    Browsers drop tabs and newlines and read a backslash as a slash, so `/\t/evil.example`
    and `/\\evil.example` both lead off-site as `//evil.example`: any such character, or a
    scheme or host, sends the user home instead.
    """
    if not target or _UNSAFE_NEXT.search(target) or not target.startswith("/") \
            or target.startswith("//"):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


class TrustedProxies:
    """Takes the client's address and scheme from `X-Forwarded-For` / `X-Forwarded-Proto`, but
    only when the request comes from a proxy named in `[admin] trusted_proxies`: from anyone else
    those headers are whatever an attacker wants them to be."""

    def __init__(self, app: Any, proxies: tuple[str, ...]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(p, strict=False) for p in proxies]

    def trusted(self, addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        if self.networks and self.trusted(peer):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")
                    if h.strip()]
            # The rightmost address no trusted proxy added is the client; the ones left of it
            # are the client's own claims.
            client = peer
            while hops:
                client = hops.pop()
                if not self.trusted(client):
                    break
            environ["REMOTE_ADDR"] = client
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


class _Sessions(SecureCookieSessionInterface):
    """Session cookies marked `Secure` whenever the request came over https (directly or via a
    trusted proxy), so they never travel in clear once the site is served over TLS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure) if has_request_context() else False


def security_headers(resp: Response, nonce: str = "") -> Response:
    """No script may run on these pages, nothing may frame them, nothing is sniffed."""
    style = f"'nonce-{nonce}'" if nonce else "'none'"
    resp.headers.setdefault("Content-Security-Policy",
                            f"default-src 'none'; style-src {style}; img-src 'self'; "
                            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    return resp


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _secret_key(rt: Runtime) -> bytes:
    """One signing key per installation, shared by every web process through Redis."""
    key = rt.keys.prefix + ":web:session-key"
    rt.redis.set(key, secrets.token_hex(32), nx=True)
    return bytes(rt.redis.get(key) or b"")  # type: ignore[arg-type]


def install(app: Flask, rt: Runtime) -> None:
    admin = rt.config.admin
    app.secret_key = _secret_key(rt)
    app.session_interface = _Sessions()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_NAME="syndicate_session",
                      PERMANENT_SESSION_LIFETIME=SESSION_DAYS * 86400)
    bp = Blueprint("admin", __name__)
    epoch_key = rt.keys.prefix + ":web:session-epoch"
    # A session is good only for the password it logged in with and until the next logout:
    # changing the password, or logging out anywhere, ends every session.
    password_mark = hmac.new(app.secret_key, str(admin.password or "").encode(),
                             "sha256").hexdigest()[:16]

    def epoch() -> str:
        return f"{password_mark}:{_s(rt.redis.get(epoch_key) or b'0')}"

    def bearer_ok() -> bool:
        header = request.headers.get("Authorization", "")
        return bool(admin.token) and header.startswith("Bearer ") and hmac.compare_digest(
            header[7:].encode(), str(admin.token).encode())

    def authed() -> bool:
        if session.get("admin") and hmac.compare_digest(str(session.get("epoch", "")), epoch()):
            return True
        return bearer_ok()

    @app.before_request
    def nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def headers(resp: Response) -> Response:
        return security_headers(resp, g.get("csp_nonce", ""))

    @app.context_processor
    def template_nonce() -> dict[str, str]:
        return {"csp_nonce": g.get("csp_nonce", "")}

    def login_required(f: F) -> F:
        @wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not admin.enabled:
                abort(Response("The status page is off: set [admin] password (or token) in the "
                               "config to turn it on.", status=403, content_type="text/plain"))
            if not authed():
                if request.method == "GET" and not request.path.startswith(("/api/", "/metrics")):
                    return redirect(url_for("admin.login", next=request.full_path))
                abort(401)
            if request.method == "POST" and not bearer_ok():
                sent = request.form.get("csrf", "")
                if not sent or not hmac.compare_digest(sent, session.get("csrf", "")):
                    abort(Response("CSRF token missing or wrong: reload the page and try again.",
                                   status=400, content_type="text/plain"))
            return f(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    app.extensions["syndicate.login_required"] = login_required

    @app.context_processor
    def csrf() -> dict[str, str]:
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(32)
        return {"csrf_token": session["csrf"]}

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if not admin.password:
            abort(Response("No [admin] password is set.", status=403, content_type="text/plain"))
        error = ""
        if request.method == "POST":
            # request.remote_addr is the client as a trusted proxy reports it (TrustedProxies).
            mine = f"{rt.keys.prefix}:web:login-failures:{request.remote_addr}"
            everyone = f"{rt.keys.prefix}:web:login-failures"
            counts = rt.redis.mget([mine, everyone])
            if int(counts[0] or 0) >= LOGIN_FAILURES or int(counts[1] or 0) >= LOGIN_FAILURES_ALL:
                return Response("Too many failed logins; wait ten minutes.", status=429)
            if hmac.compare_digest(request.form.get("password", "").encode(),
                                   str(admin.password).encode()):
                session.clear()
                session.permanent = True
                session["admin"] = True
                session["epoch"] = epoch()
                session["csrf"] = secrets.token_urlsafe(32)
                return redirect(safe_next(request.args.get("next")))
            pipe = rt.redis.pipeline()
            for key in (mine, everyone):
                pipe.incr(key)
                pipe.expire(key, LOGIN_WINDOW)
            pipe.execute()
            error = "That is not the password."
        return render_template("login.html", error=error, site=rt.config.site)

    @bp.post("/logout")
    @login_required
    def logout() -> Any:
        rt.redis.incr(epoch_key)  # every session, on every device, ends here
        session.clear()
        return redirect(url_for("admin.login"))

    @bp.get("/")
    @login_required
    def status() -> Any:
        state = request.args.get("state", "")
        target = request.args.get("target", "")
        return render_template(
            "status.html", rows=rows(rt, state=state, target=target), site=rt.config.site,
            targets=[t.name for t in rt.config.enabled_targets], state=state, target=target,
            states=["delivered", "drift", "pending", "waiting", "unknown", "dead", "held"],
            sources=[s.name for s in rt.config.enabled_sources],
            held_sources=sorted({r.source for r in rows(rt, state="held")}),
            source_problems=rt.source_problems())

    @bp.post("/actions/<action>")
    @login_required
    def act(action: str) -> Any:
        f = request.form
        try:
            message = _act(rt, action, f.get("entry", ""), f.get("target", ""), f.get("url", ""))
        except SyndicateError as exc:
            message = f"Nothing done: {exc}"
        flash(message)
        return redirect(request.referrer if request.referrer and request.referrer.startswith(
            request.host_url) else url_for("admin.status"))

    app.register_blueprint(bp)


def _act(rt: Runtime, action: str, entry: str, target: str, url: str) -> str:
    if action == "approve":
        return f"Approved {len(actions.approve(rt, entry))} held entries."
    if action == "discard":
        return f"Discarded {len(actions.discard(rt, entry))} held entries."
    if action == "resolve":
        return actions.resolve(rt, entry, target, url)
    if action == "retry":
        return actions.retry(rt, entry, target)
    if action == "give-up":
        return actions.give_up(rt, entry, target)
    abort(404)
