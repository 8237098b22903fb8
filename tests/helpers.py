"""Small helpers shared by the delivery tests."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from syndicate.entry import Entry
from syndicate.identity import fingerprint

RICH = (
    "<h2>Where the analogy holds</h2>"
    "<p>Order is kept only while <em>energy</em> flows in; see "
    '<a href="https://mind.blogspot.example/2025/11/thanatos.html">Thanatos</a>.</p>'
    '<p><img src="https://mind.blogspot.example/img/diagram.png" alt="Energy flow diagram"></p>'
    "<ul><li>dissipation</li><li>information</li></ul>"
    "<blockquote><p>Life is a far-from-equilibrium process.</p></blockquote>"
    "<table><thead><tr><th>System</th><th>Export</th></tr></thead>"
    "<tbody><tr><td>Cell</td><td>Heat</td></tr><tr><td>GPU</td><td>Heat too</td></tr></tbody></table>"
    '<pre><code class="language-python">def decode(x):\n    return x  # one token</code></pre>'
)


def new_entry(rt: Any, n: int = 1, *, fan_out: bool = True, **kw: Any) -> str:
    fields: dict[str, Any] = dict(
        source="blogger", guid=f"tag:blogger.com,1999:blog-1.post-{n}",
        link=f"https://mind.blogspot.example/2025/12/post-{n}.html",
        title=f"Post {n}", content_html=RICH + f"<p>This is post number {n}.</p>",
        published=time.time(),
        categories=["AI", "Machine Learning", "Philosophy"])
    fields.update(kw)
    e = Entry(**fields)
    e.fingerprint = fingerprint(e.title, e.content_html)
    eid, status = rt.store.upsert(e)
    assert status == "new"
    if fan_out:
        rt.dispatcher.fan_out(eid)
    return str(eid)


def edit_entry(rt: Any, eid: str, extra: str = "<p>An added paragraph.</p>") -> None:
    e = rt.store.get(eid)
    e.content_html += extra
    _, status = rt.store.upsert(e)
    assert status == "changed"
    rt.dispatcher.edited(eid)


def drive(rt: Any, eid: str, target: str, *, tries: int = 6) -> Any:
    """Attempt until a final state, skipping the backoff waits (the ledger still decides)."""
    outcome = None
    for _ in range(tries):
        outcome = rt.dispatcher.deliver(eid, target)
        if outcome.state in ("delivered", "dead", "unknown"):
            return outcome
        rt.redis.hset(rt.keys.delivery(eid, target), "next_at", 0)
    return outcome


@contextlib.contextmanager
def dripping(head: bytes, drip: bytes, every: float) -> Iterator[str]:
    """A server on loopback that answers with `head`, then `drip` a byte at a time every
    `every` seconds, for ever: what a slow or hostile server does. Yields its URL."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = srv.accept()
        conn.recv(4096)
        try:
            conn.sendall(head)
            for byte in itertools.cycle(drip):
                if stop.is_set():
                    break
                conn.sendall(bytes([byte]))
                time.sleep(every)
        except OSError:
            return
        finally:
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/feed"
    finally:
        stop.set()
        srv.close()


def deliver_fixture_posts(rt: Any, target: str) -> list[str]:
    """Every post of the sample feeds, stored and delivered to `target` until final; the ids.
    The excerpt-only post's page is on an .example host: its full text is given here."""
    from syndicate.parse import parse_feed

    from .conftest import fixture_bytes

    posts = [*parse_feed(fixture_bytes("blogger-atom.xml"), "https://b.example/f",
                         "blogger").entries,
             *parse_feed(fixture_bytes("wordpress-rss.xml"), "https://w.example/f",
                         "wordpress").entries]
    ids = []
    for entry in posts:
        eid, status = rt.store.upsert(entry)
        if status == "new":
            if entry.excerpt_only:
                rt.redis.set(rt.keys.fulltext(eid), entry.summary + "<p>And the rest.</p>")
            rt.dispatcher.fan_out(eid)
            ids.append(eid)
    for eid in ids:
        out = drive(rt, eid, target)
        assert out.state == "delivered", (eid, rt.ledger.get(eid, target))
    return ids


def sent_body(rt: Any, eid: str) -> str:
    """What was sent as the body: the full text for an excerpt-only post."""
    full = rt.redis.get(rt.keys.fulltext(eid))
    return full.decode() if full else rt.store.get(eid).body_html
