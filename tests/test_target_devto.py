"""dev.to adapter against a loopback Forem API."""

from __future__ import annotations

import time

import pytest

from syndicate.limiter import RateLimit
from syndicate.targets.devto import DevtoTarget

from .adapter_contract import AdapterContract, Case
from .fakes.devto import API_KEY, DevtoServer
from .fakes.http import Reply
from .helpers import new_entry


@pytest.fixture
def case(devto: DevtoServer) -> Case:
    def seed(link: str) -> None:
        devto.articles.append({"id": 42, "url": f"{devto.url}/x/42", "canonical_url": link,
                               "published": True, "title": "x", "body_markdown": ""})

    return Case(
        server=devto, target={"kind": "devto", "api_key": API_KEY, "base_url": devto.url,
                              "published": True},
        wrong_credentials={"api_key": "not-the-key"},
        invalid=Reply(422, {"error": "Canonical url has already been taken", "status": 422}),
        invalid_words="Canonical url has already been taken",
        canonical=lambda a: a["canonical_url"], body=lambda a: a["body_markdown"], seed=seed,
        rate_limited=Reply(429, {"error": "Rate limit reached, try again in 30 seconds",
                                 "status": 429}, {"Retry-After": "7"}),
    )


def test_article_fields(make_runtime, devto) -> None:
    rt, _ = make_runtime(targets=[{"name": "blog", "kind": "devto", "api_key": API_KEY,
                                   "base_url": devto.url, "series": "Entropy",
                                   "tags": {"Machine Learning": ["ml", "machinelearning"]}}])
    eid = new_entry(rt, title="A title " + "long " * 40,
                    categories=["AI", "Machine Learning", "Philosophy", "C++", "Rust"])
    assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
    (art,) = devto.articles
    assert len(art["title"]) <= 128 and art["title"].endswith("…")
    assert art["tags"] == ["ai", "ml", "machinelearning", "philosophy"]  # sent as one string
    assert art["series"] == "Entropy" and art["published"] is False  # the API's default
    md = art["body_markdown"]
    assert "```python\ndef decode(x):\n    return x  # one token\n```" in md
    assert "| Cell | Heat |" in md
    assert "![Energy flow diagram](https://mind.blogspot.example/img/diagram.png)" in md


def test_twenty_at_once_never_trips_the_rate_limit(make_runtime, monkeypatch) -> None:
    # dev.to allows 9 published creates per 30 s and 1 write per second. The same rules, and
    # the adapter's own limits, on a clock 10 times faster: seconds, not a minute.
    scale = 10.0
    server = DevtoServer(window=30 / scale, min_gap=1 / scale).start()
    monkeypatch.setattr(DevtoTarget, "rate_limits", tuple(
        RateLimit(lim.count, lim.per / scale, lim.scope) for lim in DevtoTarget.rate_limits))
    try:
        rt, q = make_runtime(targets=[{"name": "blog", "kind": "devto", "api_key": API_KEY,
                                       "base_url": server.url, "published": True}])
        ids = [new_entry(rt, n) for n in range(20)]
        deadline = time.time() + 30
        pending = set(ids)
        while pending and time.time() < deadline:
            for eid in list(pending):
                out = rt.dispatcher.deliver(eid, "blog")
                if out.state == "delivered":
                    pending.discard(eid)
            time.sleep(0.02)
        assert not pending
        assert len(server.articles) == 20 and server.rejected == 0
        attempts = [rt.ledger.get(eid, "blog").attempts for eid in ids]
        assert attempts == [1] * 20  # waiting for a slot spends no attempt
    finally:
        server.stop()


class TestDevtoContract(AdapterContract):
    """Every blog target's contract, against the loopback Devto API."""
