"""Login and sessions: no open redirect, a throttle a proxy cannot turn against the admin,
Secure cookies over https, sessions that end at logout and at a password change, weak secrets
refused, security headers on every page, and a health check whose cost does not grow."""

from __future__ import annotations

import pytest

from syndicate.errors import ConfigError
from syndicate.web import create_app

from .conftest import make_config

PASSWORD = "correct horse battery"


@pytest.fixture
def make_app(make_runtime):
    def make(**admin):
        rt, _ = make_runtime(admin={"password": PASSWORD, **admin})
        return rt, create_app(rt)

    return make


@pytest.mark.parametrize("nxt", ["/\t/evil.example/phish", "//evil.example/", "/\\evil.example",
                                 "https://evil.example/", "/\n/evil.example", "\\/evil.example",
                                 "/%09/evil.example", " //evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_site(make_app, nxt) -> None:
    _, app = make_app()
    resp = app.test_client().post("/login", query_string={"next": nxt},
                                  data={"password": PASSWORD})
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert location in ("/", "/%09/evil.example"), location
    assert "//" not in location


def test_login_keeps_a_path_on_this_site(make_app) -> None:
    _, app = make_app()
    resp = app.test_client().post("/login", query_string={"next": "/?state=dead&target=devto"},
                                  data={"password": PASSWORD})
    assert resp.headers["Location"] == "/?state=dead&target=devto"


def test_throttle_keys_on_the_client_a_trusted_proxy_reports(make_app) -> None:
    _, app = make_app(trusted_proxies=["127.0.0.1"])
    client = app.test_client()

    def attempt(client_ip: str, password: str = "wrong password!") -> int:
        return client.post("/login", data={"password": password},
                           headers={"X-Forwarded-For": client_ip}).status_code

    for _ in range(10):
        assert attempt("203.0.113.7") == 200
    assert attempt("203.0.113.7") == 429  # the guesser is locked out ...
    assert attempt("198.51.100.9", PASSWORD) == 302  # ... and the admin is not


def test_forwarded_headers_from_anyone_else_are_ignored(make_app) -> None:
    _, app = make_app()  # no trusted proxy: X-Forwarded-For means nothing
    client = app.test_client()
    for i in range(10):
        client.post("/login", data={"password": "nope nope nope"},
                    headers={"X-Forwarded-For": f"203.0.113.{i}"})
    assert client.post("/login", data={"password": "nope nope nope"},
                       headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429


def test_a_global_ceiling_stops_a_spread_out_guesser(make_app) -> None:
    from syndicate import admin

    _, app = make_app(trusted_proxies=["127.0.0.1"])
    client = app.test_client()
    for i in range(admin.LOGIN_FAILURES_ALL):
        client.post("/login", data={"password": "nope nope nope"},
                    headers={"X-Forwarded-For": f"10.{i // 250}.{i % 250}.1"})
    assert client.post("/login", data={"password": "nope nope nope"},
                       headers={"X-Forwarded-For": "192.0.2.1"}).status_code == 429


def test_cookies_are_secure_over_https(make_app) -> None:
    _, app = make_app(trusted_proxies=["127.0.0.1"])
    plain = app.test_client().post("/login", data={"password": PASSWORD})
    assert "Secure" not in plain.headers["Set-Cookie"]
    direct = app.test_client().post("/login", data={"password": PASSWORD},
                                    base_url="https://status.example")
    assert "Secure" in direct.headers["Set-Cookie"] and "HttpOnly" in direct.headers["Set-Cookie"]
    proxied = app.test_client().post("/login", data={"password": PASSWORD},
                                     headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in proxied.headers["Set-Cookie"]


def test_untrusted_forwarded_proto_is_ignored(make_app) -> None:
    _, app = make_app()
    resp = app.test_client().post("/login", data={"password": PASSWORD},
                                  headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in resp.headers["Set-Cookie"]


def _csrf(client) -> str:
    import re

    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_logout_ends_every_session(make_app) -> None:
    _, app = make_app()
    laptop, phone = app.test_client(), app.test_client()
    for c in (laptop, phone):
        c.post("/login", data={"password": PASSWORD})
        assert c.get("/").status_code == 200
    laptop.post("/logout", data={"csrf": _csrf(laptop)})
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302  # the stolen or forgotten one is out too


def test_a_password_change_ends_every_session(make_runtime, redis_url, prefix) -> None:
    from syndicate.runtime import Runtime

    rt, _ = make_runtime(admin={"password": PASSWORD})
    client = create_app(rt).test_client()
    client.post("/login", data={"password": PASSWORD})
    assert client.get("/").status_code == 200
    cookie = client.get_cookie("syndicate_session")
    assert cookie is not None
    changed = Runtime.open(make_config(redis_url, prefix, admin={"password": "a new passphrase"}),
                           queue=rt.queue, r=rt.redis)
    other = create_app(changed).test_client()
    other.set_cookie("syndicate_session", cookie.value)
    assert other.get("/").status_code == 302


@pytest.mark.parametrize("admin, why", [
    ({"password": "short"}, "12 characters"),
    ({"password": " " * 12}, "repeated"),
    ({"password": "aaaaaaaaaaaaaaaa"}, "repeated"),
    ({"token": "x" * 20}, "repeated"),
])
def test_weak_admin_secrets_are_refused(redis_url, prefix, admin, why) -> None:
    with pytest.raises(ConfigError, match=why):
        make_config(redis_url, prefix, admin=admin)


@pytest.mark.parametrize("secret", ["whsec_YWJj", "x", "short-but-not-24", "whsec_" + "A" * 40])
def test_weak_webhook_secrets_are_refused(redis_url, prefix, secret) -> None:
    with pytest.raises(ConfigError, match="webhook.secret: too weak"):
        make_config(redis_url, prefix, webhook={"secret": secret})


def test_pages_send_security_headers(make_app) -> None:
    _, app = make_app()
    client = app.test_client()
    for resp in (client.get("/login"), client.get("/", follow_redirects=True)):
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "script-src" not in csp  # no script may run at all
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        nonce = csp.split("'nonce-")[1].split("'")[0]
        assert f'<style nonce="{nonce}">' in resp.get_data(as_text=True)


def test_healthz_reads_by_key_not_by_scan(make_runtime) -> None:
    rt, _ = make_runtime()
    rt.heartbeat("w1")
    client = create_app(rt).test_client()

    def no_scan(*a, **kw):
        raise AssertionError("healthz must not scan the keyspace")

    rt.redis.scan_iter = no_scan  # type: ignore[method-assign]
    rt.redis.scan = no_scan  # type: ignore[method-assign]
    rt.redis.keys = no_scan  # type: ignore[method-assign]
    body = client.get("/healthz").get_json()
    assert body["workers"] == 1 and body["redis"] == "ok"
