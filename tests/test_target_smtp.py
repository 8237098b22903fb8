"""SMTP adapter against a real aiosmtpd server on loopback."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from .fakes.smtp import SmtpServer
from .helpers import new_entry
from .test_dispatcher import smtp_target


def test_the_email(make_runtime, smtp) -> None:
    rt, _ = make_runtime(targets=[smtp_target(
        smtp, reply_to="Sanjay <sanjay@home.example>",
        list_unsubscribe="https://home.example/unsubscribe")])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    (msg,) = smtp.messages
    assert msg["Subject"] == "Post 1" and msg["From"] == "Sanjay <posts@home.example>"
    assert msg["Reply-To"] == "Sanjay <sanjay@home.example>"
    assert msg["List-Unsubscribe"] == "<https://home.example/unsubscribe>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Post"] == "<https://mind.blogspot.example/2025/12/post-1.html>"
    assert msg["Message-ID"].endswith("@home.example>")
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "Read it on Sanjay Basu: https://mind.blogspot.example/2025/12/post-1.html" in text
    assert "Thanatos (https://mind.blogspot.example/2025/11/thanatos.html)" in text
    assert "| Cell | Heat |" in text  # tables stay readable in plain text
    assert 'href="https://mind.blogspot.example/2025/12/post-1.html"' in html
    assert 'src="https://mind.blogspot.example/img/diagram.png"' in html  # absolute
    assert "<style" not in html and "max-width: 100%" in html  # CSS inlined
    assert 'width="536"' in html  # images fit the 600px column
    assert "Unsubscribe" in html
    # The same Message-ID on every attempt for this (entry, target): a resend is recognisable.
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    assert len(smtp.messages) == 1


def test_to_file(make_runtime, smtp, tmp_path: Path) -> None:
    f = tmp_path / "subscribers.txt"
    f.write_text("# readers\na@home.example\n\nb@home.example\n")
    rt, _ = make_runtime(targets=[smtp_target(smtp, to=None, to_file=str(f))])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    assert sorted(smtp.inbox.envelopes[0].rcpt_tos) == ["a@home.example", "b@home.example"]


class Auth:
    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"syndicate", b"s3cret")
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[SmtpServer, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = SmtpServer(tls_context=ctx, require_starttls=True, authenticator=Auth(),
                        auth_required=True, auth_require_tls=True).start()
    yield server, ca_file
    server.stop()


def test_starttls_and_auth(make_runtime, tls_smtp) -> None:
    server, ca_file = tls_smtp
    rt, _ = make_runtime(targets=[smtp_target(server, security="starttls", username="syndicate",
                                              password="s3cret", ca_file=str(ca_file))])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    assert len(server.messages) == 1


def test_wrong_password_marks_the_target_broken(make_runtime, tls_smtp) -> None:
    server, ca_file = tls_smtp
    rt, _ = make_runtime(targets=[smtp_target(server, security="starttls", username="syndicate",
                                              password="wrong", ca_file=str(ca_file))])
    eid = new_entry(rt)
    out = rt.dispatcher.deliver(eid, "mail")
    assert out.state == "failed" and "login refused: 535" in out.error and "wrong" not in out.error
    assert rt.ledger.get(eid, "mail").last_error.startswith("target broken:")


def test_untrusted_certificate_is_refused(make_runtime, tls_smtp) -> None:
    server, _ = tls_smtp
    rt, _ = make_runtime(targets=[smtp_target(server, security="starttls", username="syndicate",
                                              password="s3cret")])
    eid = new_entry(rt)
    out = rt.dispatcher.deliver(eid, "mail")
    assert out.state == "failed" and "CERTIFICATE_VERIFY_FAILED" in out.error
    assert server.messages == []


def test_multipart_basics(make_runtime, smtp) -> None:
    rt, _ = make_runtime(targets=[smtp_target(smtp)])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    (msg,) = smtp.messages
    assert msg["Subject"] == "Post 1"
    assert msg["List-Post"] == "<https://mind.blogspot.example/2025/12/post-1.html>"
    assert msg["Message-ID"].endswith("@home.example>")
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "https://mind.blogspot.example/2025/12/post-1.html" in text
    assert 'href="https://mind.blogspot.example/2025/12/post-1.html"' in html
    assert rt.dispatcher.deliver(eid, "mail").state == "delivered"
    assert len(smtp.messages) == 1



def test_smtp_drop_after_data_is_unknown(make_runtime, smtp) -> None:
    rt, _ = make_runtime(targets=[smtp_target(smtp)])
    eid = new_entry(rt)
    smtp.inbox.drop_after_data = 1
    out = rt.dispatcher.deliver(eid, "mail")
    assert out.state == "unknown", out
    assert "may have been delivered" in rt.ledger.get(eid, "mail").last_error
    # Not retried on its own.
    assert rt.dispatcher.deliver(eid, "mail").state == "unknown"
    assert len(smtp.messages) == 1



def test_smtp_server_down_is_retried(make_runtime) -> None:
    rt, _ = make_runtime(targets=[{"name": "mail", "kind": "smtp", "host": "127.0.0.1",
                                   "port": 9, "security": "none", "from": "a@b.example",
                                   "to": ["c@d.example"], "timeout": "1s"}])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "mail").state == "failed"




def test_one_kept_connection_and_one_tls_context(make_runtime, smtp, monkeypatch) -> None:
    """Three emails on one kept connection, not three logins; and the TLS context, which loads
    the CA bundle, is never built for a plain connection."""
    import ssl

    built: list[int] = []
    real = ssl.create_default_context
    monkeypatch.setattr(ssl, "create_default_context", lambda *a, **k: built.append(1) or real(
        *a, **k))
    rt, _ = make_runtime(targets=[smtp_target(smtp)])
    for n in (1, 2, 3):
        assert rt.dispatcher.deliver(new_entry(rt, n), "mail").state == "delivered"
    assert len(smtp.messages) == 3 and smtp.inbox.sessions == 1
    assert built == []


def test_a_kept_connection_the_server_closed_is_opened_again(make_runtime, smtp) -> None:
    """Servers close idle sessions: the next email finds out at MAIL FROM, before anything of
    it was sent, and goes out on a new connection, once."""
    rt, _ = make_runtime(targets=[smtp_target(smtp)])
    assert rt.dispatcher.deliver(new_entry(rt, 1), "mail").state == "delivered"
    smtp.close_sessions()
    assert rt.dispatcher.deliver(new_entry(rt, 2), "mail").state == "delivered"
    assert len(smtp.messages) == 2 and smtp.inbox.sessions == 2


def test_a_worker_opens_no_more_connections_than_max_connections(make_runtime, smtp) -> None:
    """Six threads mail at once through two sessions, not one session a thread: a mail server
    refuses a client that opens too many."""
    import threading

    rt, _ = make_runtime(targets=[{**smtp_target(smtp), "max_connections": 2}])
    ids = [new_entry(rt, n) for n in range(1, 13)]
    states: list[str] = []

    def mail(part: list[str]) -> None:
        for eid in part:
            states.append(rt.dispatcher.deliver(eid, "mail").state)

    threads = [threading.Thread(target=mail, args=(ids[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert states == ["delivered"] * 12
    # Sessions opened in all: a session is opened only in a free slot with none idle, so with
    # nothing failing or closed there are never more than the slots.
    assert len(smtp.messages) == 12 and smtp.inbox.sessions <= 2


def test_every_connection_busy_is_a_retry_naming_the_limit(make_runtime, smtp) -> None:
    rt, _ = make_runtime(targets=[{**smtp_target(smtp), "max_connections": 1,
                                   "timeout": "1s"}])
    eid = new_entry(rt)
    adapter = rt.dispatcher.target("mail")
    held = adapter.sessions.take(1.0)  # another thread's message, in its one slot
    try:
        out = rt.dispatcher.deliver(eid, "mail")
    finally:
        adapter.sessions.give(held)
    assert out.state == "failed", out
    assert "all 1 connections of this worker stayed busy" in out.error
    assert not smtp.messages  # nothing went out, and the record waits for its retry
    assert rt.ledger.get(eid, "mail").state == "failed"


def test_max_connections_must_be_positive(redis_url: str, prefix: str) -> None:
    from syndicate.errors import ConfigError

    from .conftest import make_config

    with pytest.raises(ConfigError, match=r"targets\[mail\]\.max_connections"):
        make_config(redis_url, prefix, targets=[{
            "name": "mail", "kind": "smtp", "host": "127.0.0.1", "security": "none",
            "from": "a@b.example", "to": ["c@d.example"], "max_connections": 0}])
