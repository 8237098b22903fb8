"""Small helpers shared by the delivery tests."""

from __future__ import annotations

import time
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
