"""The API-call transport (`syndicate/transport.py`): kept connections, the guard, bounded and
decoded answers, TLS as requests checks it, and everything else left to urllib3."""

from __future__ import annotations

import contextlib
import gzip
import http.server
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import trustme

from syndicate import guard, transport
from syndicate.dispatcher import Outcome
from syndicate.guard import Deadline
from syndicate.session import Session

from .conftest import OUTBOUND_SECRET
from .helpers import dripping, new_entry


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: set[int]
    answer: tuple[int, list[tuple[str, str]], bytes]

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.peers.add(self.client_address[1])
        status, headers, body = self.answer
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def serving(status: int = 200, headers: list[tuple[str, str]] | None = None,
            body: bytes = b'{"id": "1"}', tls: ssl.SSLContext | None = None
            ) -> Iterator[tuple[str, set[int]]]:
    """A threaded HTTP/1.1 server on loopback; yields its URL and the client ports it saw (one
    per connection)."""
    peers: set[int] = set()
    handler = type("H", (_Handler,), {"peers": peers,
                                      "answer": (status, headers or [], body)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if tls else "http"
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}/in", peers
    finally:
        server.shutdown()
        server.server_close()


def post(s: Session, url: str, **kw: object) -> requests.Response:
    prepared = requests.Request("POST", url, data=b'{"a": 1}',
                                headers={"Content-Type": "application/json"}).prepare()
    return s.send(prepared, timeout=(5, 5), allow_redirects=False, **kw)  # type: ignore[arg-type]


def test_connections_are_kept_and_answers_are_requests_responses() -> None:
    with serving(201, [("Content-Type", "application/json"), ("Link", "<a>"),
                       ("Link", "<b>")]) as (url, peers):
        s = Session()
        for _ in range(5):
            resp = post(s, url)
            assert resp.status_code == 201 and resp.json() == {"id": "1"}
            assert resp.headers["link"] == "<a>, <b>"  # a repeated header joined, as urllib3 does
            assert resp.url == url and resp.request is not None and resp.ok
        assert len(peers) == 1  # one connection, kept
        s.close()


def test_a_connection_the_server_closed_is_not_reused() -> None:
    """A server may close a kept connection while it idles: the next request opens another
    rather than failing (which, for a post, would leave the outcome unknown)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    seen: list[int] = []

    def serve() -> None:
        while True:
            try:
                conn, peer = srv.accept()
            except OSError:
                return
            seen.append(peer[1])
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(0.05)
            conn.close()  # no Connection: close header: the client finds out by itself

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{srv.getsockname()[1]}/in"
    s = Session()
    try:
        assert post(s, url).text == "ok"
        time.sleep(0.2)
        assert post(s, url).text == "ok"
        assert len(seen) == 2
    finally:
        srv.close()
        s.close()


def test_an_answer_over_the_cap_is_not_read(monkeypatch) -> None:
    monkeypatch.setattr(transport, "MAX_REPLY", 1000)
    with serving(200, body=b"x" * 5000) as (url, _), pytest.raises(transport.ReplyTooLarge):
        post(Session(), url)  # its Content-Length says so: nothing of it is read
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    with dripping(head, b"400\r\n" + b"x" * 1024 + b"\r\n", 0) as url, \
            pytest.raises(transport.ReplyTooLarge):
        post(Session(), url)  # no length declared: read up to the cap, then refused


def test_gzip_answers_are_decoded_under_the_cap(monkeypatch) -> None:
    monkeypatch.setattr(transport, "MAX_REPLY", 100_000)
    with serving(200, [("Content-Encoding", "gzip")], gzip.compress(b'{"ok": true}')) as (url, _):
        assert post(Session(), url).json() == {"ok": True}
    bomb = gzip.compress(b"\0" * 1_000_000)  # 1 KB on the wire
    with (serving(200, [("Content-Encoding", "gzip")], bomb) as (url, _),
          pytest.raises(transport.ReplyTooLarge)):
        post(Session(), url)


def test_the_guard_refuses_and_never_reuses_an_unchecked_connection() -> None:
    with serving() as (url, peers):
        s = Session()
        assert post(s, url).ok  # an operator's own target: made outside the guard, kept
        with guard.guarding(allow_private=False), pytest.raises(guard.UnsafeURL):
            post(s, url)  # not sent on the kept connection: refused at the new one
        with guard.guarding(allow_private=True):
            assert post(s, url).ok
        assert len(peers) == 2  # the checked connection is a new one
        s.close()


def test_a_trickling_answer_is_cut_at_the_deadline() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with dripping(head, b"x", 0.05) as url:
        started = time.monotonic()
        with Deadline(1.0), pytest.raises(requests.ConnectionError):
            post(Session(), url)
        assert time.monotonic() - started < 4


def test_refused_connection_says_it_never_left() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(transport.ConnectFailed):
        post(Session(), f"http://127.0.0.1:{port}/in")


def test_tls_is_checked_as_requests_checks_it(tmp_path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(server_ctx)
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    with serving(tls=server_ctx) as (url, peers):
        s = Session()
        with pytest.raises(requests.exceptions.SSLError) as failed:
            post(s, url, verify=True)  # certifi's bundle does not know this CA
        assert isinstance(failed.value, transport.ConnectFailed)  # never sent: safe to retry
        assert post(s, url, verify=str(bundle)).json() == {"id": "1"}
        assert post(s, url, verify=str(bundle)).ok
        assert post(s, url, verify=False).ok  # a different setting: a connection of its own
        assert len(peers) == 2
        s.close()


def test_streamed_and_proxied_requests_go_through_urllib3() -> None:
    with serving() as (url, _):
        s = Session()
        resp = s.get(url, timeout=5, stream=True)
        assert resp.raw is not None and resp.json() == {"id": "1"}  # urllib3's response
        resp.close()
        assert post(s, url).raw is None  # the kept-connection path
        s.close()


def test_a_forked_child_keeps_none_of_its_parents_connections() -> None:
    with serving() as (url, peers):
        s = Session()
        assert post(s, url).ok
        pid = os.fork()
        if pid == 0:  # the child: its own connection, not the parent's socket
            code = 0
            try:
                adapter = s.get_adapter(url)
                code = 0 if not adapter._idle and post(s, url).ok else 1  # type: ignore[attr-defined]
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert post(s, url).ok  # the parent's kept connection still works
        assert len(peers) == 2
        s.close()


def _hook(url: str) -> dict[str, str]:
    return {"name": "hook", "kind": "webhook", "url": url, "secret": OUTBOUND_SECRET,
            "timeout": "1s"}


def test_a_target_call_is_under_one_deadline(make_runtime) -> None:
    """An answer that trickles in, a byte well within every read timeout, is cut off at connect
    plus `timeout`: a delivery cannot be held for as long as the other side likes."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with dripping(head, b"x", 0.05) as url:
        rt, _ = make_runtime(targets=[_hook(url)])
        eid = new_entry(rt)
        outcomes: list[Outcome] = []
        worker = threading.Thread(target=lambda: outcomes.append(
            rt.dispatcher.deliver(eid, "hook")), daemon=True)
        worker.start()
        worker.join(15)  # the deadline is 11 s (connect 10 + timeout 1); the answer, 80 min
        assert outcomes, "the delivery was still reading the trickle"
        out = outcomes[0]
        assert out.state != "delivered" and "no answer after sending" in (out.error or "")


def test_a_target_answer_over_the_cap_says_so(make_runtime, monkeypatch) -> None:
    monkeypatch.setattr(transport, "MAX_REPLY", 1000)
    with serving(200, body=b"x" * 5000) as (url, _):
        rt, _ = make_runtime(targets=[_hook(url)])
        out = rt.dispatcher.deliver(new_entry(rt), "hook")
        assert out.state != "delivered" and "over 1000" in out.error
        assert "the target may have the post" in out.error  # it was sent: not retried blind
