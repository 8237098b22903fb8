"""Secrets: a platform that quotes our credentials back never gets them stored or shown.

Each attack is a target that echoes what it was sent in its error (dev.to's 401 quoting the
`api-key`, a WordPress proxy repeating the Basic `Authorization` header, an SMTP server's
`535 ... failed for user:password`). After the deliveries, every place text is kept or shown is
searched for every configured secret, in clear, URL-encoded and base64: the ledger, the target's
health, every Redis value under the prefix, the logs (Celery's dict fields included), the API,
`syndicate status --json` and the status page.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from urllib.parse import quote

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner

from syndicate import logs
from syndicate.redact import MASK, Redactor
from syndicate.targets import secrets as config_secrets
from syndicate.web import create_app

from .fakes.http import LoopbackServer, Reply, Request
from .fakes.smtp import SmtpServer
from .helpers import drive, new_entry

DEVTO_KEY = "devto-key-7f3a9c2e1b"
WP_PASSWORD = "abcd EFGH ijkl MNOP qrst UVWX"
SMTP_PASSWORD = "smtp-pass-Z9y8X7w6"
ADMIN_PASSWORD = "admin-pass-with-length"
ADMIN_TOKEN = "admin-token-0123456789"
HOOK_SECRET = "whsec_" + base64.b64encode(b"outbound-hook-secret-24bytes!!").decode()
ALL = [DEVTO_KEY, WP_PASSWORD, SMTP_PASSWORD, ADMIN_PASSWORD, ADMIN_TOKEN, HOOK_SECRET]


def forms(secret: str) -> list[str]:
    """The ways a secret travels: as is, URL-encoded, base64, and inside a Basic header."""
    return [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"sanjay:{secret}".encode()).decode()]


def leaks(text: str) -> list[str]:
    return [f for s in ALL for f in forms(s) if f in text]


class Echo(LoopbackServer):
    """A platform whose every error quotes the request's credentials back."""

    def handle(self, request: Request) -> Reply:
        said = {k: v for k, v in request.headers.items()
                if k.lower() in ("api-key", "authorization")}
        return Reply(401, {"error": f"unauthorized: you sent {said}",
                           "message": f"bad credentials {said}", "status": 401})


class Echo535:
    """An SMTP login that fails quoting the user and password."""

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        who = f"{auth_data.login.decode()}:{auth_data.password.decode()}"
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.8 Authentication failed for {who}")


def test_redactor_masks_every_form() -> None:
    red = Redactor(["s3cr3t-value", "p@ss w/rd+x"])
    b64 = base64.b64encode(b"user:s3cr3t-value").decode()
    for text in ("key s3cr3t-value here", "q=p%40ss%20w%2Frd%2Bx&x=1", "q=p%40ss+w%2Frd%2Bx",
                 f"Authorization: Basic {b64}", json.dumps({"k": "p@ss w/rd+x"}),
                 "token " + base64.urlsafe_b64encode(b"s3cr3t-value").decode()):
        out = red.redact(text)
        assert "s3cr3t" not in out and "p@ss" not in out and "p%40ss" not in out
        assert b64 not in out and MASK in out, (text, out)
    assert red.redact("nothing to see") == "nothing to see"
    assert red.redact_any({"a": ["s3cr3t-value", 3], "b": ("x", "s3cr3t-value")}) == {
        "a": [MASK, 3], "b": ("x", MASK)}


@pytest.fixture
def echoing(make_runtime):
    echo = Echo().start()
    smtp = SmtpServer(authenticator=Echo535(), auth_require_tls=False).start()
    rt, q = make_runtime(
        sources=[{"name": "blogger", "url": echo.url + "/feed"}],
        targets=[
            {"name": "devto", "kind": "devto", "api_key": DEVTO_KEY, "base_url": echo.url,
             "timeout": "2s", "max_attempts": 1},
            {"name": "wp", "kind": "wordpress", "base_url": echo.url, "username": "sanjay",
             "app_password": WP_PASSWORD, "timeout": "2s", "max_attempts": 1},
            {"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
             "security": "none", "username": "sanjay", "password": SMTP_PASSWORD,
             "from": "S <s@home.example>", "to": ["r@home.example"], "timeout": "2s",
             "max_attempts": 1},
            {"name": "hook", "kind": "webhook", "url": echo.url + "/hook", "secret": HOOK_SECRET,
             "timeout": "2s", "max_attempts": 1},
        ],
        admin={"password": ADMIN_PASSWORD, "token": ADMIN_TOKEN})
    yield rt
    echo.stop()
    smtp.stop()


def test_echoed_credentials_are_stored_and_shown_masked(echoing, caplog, monkeypatch) -> None:
    rt = echoing
    # The log filter, as every process installs it.
    logs.mask(config_secrets(rt.config))
    handler = logging.getLogger().handlers[0] if logging.getLogger().handlers else None
    caplog.set_level(logging.INFO)
    caplog.handler.addFilter(logs.MaskSecrets(config_secrets(rt.config)))
    eid = new_entry(rt)
    for target in ("devto", "wp", "mail", "hook"):
        drive(rt, eid, target, tries=2)
    broken = {t: rt.redis.hget(rt.keys.target(t), "broken") for t in ("devto", "wp", "mail")}
    assert all(broken.values()), broken  # every one of them refused us, and said so
    assert "535" in broken["mail"].decode()
    # A Celery-style log line with its fields in a dict.
    logging.getLogger("celery.app.trace").info(
        "Task failed", extra={"data": {"exc": f"401 api-key {DEVTO_KEY}", "args": [WP_PASSWORD]}})

    everything: list[str] = []
    for key in rt.redis.scan_iter(f"{rt.keys.prefix}:*", count=1000):
        kind = rt.redis.type(key).decode()
        if kind == "string":
            everything.append(rt.redis.get(key).decode(errors="replace"))
        elif kind == "hash":
            everything += [f"{k!r}={v!r}" for k, v in rt.redis.hgetall(key).items()]
        elif kind == "list":
            everything += [v.decode(errors="replace") for v in rt.redis.lrange(key, 0, -1)]
        elif kind == "zset":
            everything += [v.decode(errors="replace") for v in rt.redis.zrange(key, 0, -1)]
    client = create_app(rt).test_client()
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    api = client.get("/api/deliveries", headers=auth)
    assert api.status_code == 200 and len(api.get_json()) == 4
    everything.append(api.get_data(as_text=True))
    page = client.get("/", headers=auth)
    assert page.status_code == 200
    everything.append(page.get_data(as_text=True))
    everything.append(client.get("/metrics", headers=auth).get_data(as_text=True))
    everything += [r.getMessage() + json.dumps(vars(r), default=str) for r in caplog.records]
    out = "\n".join(everything)
    assert "unauthorized: you sent" in out and MASK in out  # the messages are there, masked
    assert leaks(out) == []
    if handler is not None:
        handler.filters = [f for f in handler.filters if not isinstance(f, logs.MaskSecrets)]


def test_cli_status_masks_old_records(echoing, monkeypatch, tmp_path) -> None:
    """A record written before the secret was configured (or by an older version) is masked on
    the way out too."""
    from syndicate import cli

    rt = echoing
    eid = new_entry(rt)
    rt.redis.hset(rt.keys.delivery(eid, "devto"), "last_error", f"HTTP 401: key {DEVTO_KEY}")
    monkeypatch.setattr(cli, "runtime_for", lambda _path: rt)
    result = CliRunner().invoke(cli.main, ["status", "--json"])
    assert result.exit_code == 0, result.output
    assert DEVTO_KEY not in result.output and MASK in result.output
    result = CliRunner().invoke(cli.main, ["status"])
    assert DEVTO_KEY not in result.output


def test_status_api_needs_the_login_or_stays_on_loopback(make_runtime) -> None:
    rt, _ = make_runtime(admin={"password": ADMIN_PASSWORD})
    client = create_app(rt).test_client()
    assert client.get("/api/deliveries").status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/feed.xml").status_code == 200
    open_rt, _ = make_runtime()
    local = create_app(open_rt).test_client()
    assert local.get("/api/deliveries").status_code == 200  # a laptop's own loopback
    exposed = create_app(open_rt, exposed=True).test_client()
    for path in ("/api/deliveries", "/metrics"):
        resp = exposed.get(path)
        assert resp.status_code == 403 and "[admin]" in resp.get_json()["error"]
    assert exposed.get("/healthz").status_code == 200
    assert exposed.get("/feed.atom").status_code == 200


def test_example_config_has_no_demo_secret() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "config" / "syndicate.example.toml").read_text()
    assert not re.search(r"\$\{[A-Z_]+:-whsec_", text)
    # No secret falls back to a value (a URL may: it is no secret).
    assert not re.search(r"\$\{[A-Z_]*(SECRET|PASSWORD|KEY|TOKEN)[A-Z_]*:-[^}]+\}", text)


def test_compose_passes_every_secret_and_publishes_only_the_web_port() -> None:
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parent.parent
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    named = set(re.findall(r"\$\{([A-Z_]+)", (root / "config" / "syndicate.example.toml").read_text()))
    named |= set(re.findall(r"\$\{([A-Z_]+)", (root / "README.md").read_text())) - {"NAME", "ENV"}
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        missing = {v for v in named if v.startswith(("SYNDICATE_", "DEVTO_"))} - set(env)
        assert not missing, (name, missing)
    published = {name: s.get("ports") for name, s in services.items() if s.get("ports")}
    assert published.pop("web") == ["8080:8080"]
    assert published == {"flower": ["127.0.0.1:5555:5555"]}  # loopback only, and behind a login
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]
    assert "FLOWER_BASIC_AUTH" in " ".join(services["flower"]["command"])
