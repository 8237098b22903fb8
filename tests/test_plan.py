"""`syndicate plan`: the next run as a dry run; then the run does exactly what it said."""

from __future__ import annotations

import json

from click.testing import CliRunner

from syndicate import cli
from syndicate import plan as plan_mod
from syndicate.web import create_app

from .conftest import OUTBOUND_SECRET, fixture_bytes
from .test_flood import posts
from .test_poller import NEW_POST, with_new_post

TOKEN = "admin-token-0123456789"


def snapshot(rt) -> dict[bytes, object]:  # type: ignore[no-untyped-def]
    """Every key under the prefix with its value, by type."""
    out: dict[bytes, object] = {}
    for k in rt.redis.scan_iter(f"{rt.keys.prefix}:*"):
        kind = rt.redis.type(k)
        out[k] = {b"string": rt.redis.get, b"hash": rt.redis.hgetall,
                  b"zset": lambda key: rt.redis.zrange(key, 0, -1, withscores=True),
                  b"list": lambda key: rt.redis.lrange(key, 0, -1)}[kind](k)
    return out


def hook(name: str, **kw: object) -> dict[str, object]:
    return {"name": name, "kind": "webhook", "url": "http://127.0.0.1:9/x",
            "secret": OUTBOUND_SECRET, **kw}


def test_plan_then_run(make_runtime, feed_server, monkeypatch) -> None:
    url = feed_server.put("/feed", fixture_bytes("blogger-atom.xml"))
    rt, q = make_runtime(sources=[{"name": "blogger", "url": url, "flood_limit": 2}],
                         targets=[hook("a"), hook("b")], admin={"token": TOKEN})
    rt.poll("blogger")  # the baseline
    feed_server.put("/feed", with_new_post(fixture_bytes("blogger-atom.xml"), NEW_POST))
    before = snapshot(rt)
    made = plan_mod.make(rt)
    after = snapshot(rt)
    assert before == after  # nothing written
    assert q.deliveries == [] and q.polls == []  # nothing sent
    (src,) = made.sources
    assert src.status == "new" and src.new == ["A New Post"]
    planned = sorted((t.target, t.entry, t.action) for t in made.targets)
    assert planned == [("a", "A New Post", "send"), ("b", "A New Post", "send")]
    # The run does what the plan said, no more, no less.
    result = rt.poll("blogger")
    done = sorted((target, rt.store.get(eid).title, "send") for eid, target in q.deliveries)
    assert done == planned and len(result.new) == 1
    # Afterwards the feed is unchanged, and what remains is the two deliveries now due.
    again = plan_mod.make(rt)
    assert again.sources[0].status == "not-modified"
    assert sorted((t.target, t.action) for t in again.targets) == [("a", "send"), ("b", "send")]
    monkeypatch.setattr(cli, "runtime_for", lambda _p: rt)
    out = CliRunner().invoke(cli.main, ["plan", "--json"])
    assert out.exit_code == 0 and json.loads(out.output)["sources"][0]["source"] == "blogger"
    api = create_app(rt).test_client().get("/api/plan",
                                           headers={"Authorization": f"Bearer {TOKEN}"})
    assert api.status_code == 200 and api.get_json()["sources"][0]["status"] == "not-modified"


def test_plan_shows_held_and_broken(make_runtime, feed_server) -> None:
    url = feed_server.put("/feed", fixture_bytes("blogger-atom.xml"))
    rt, q = make_runtime(sources=[{"name": "blogger", "url": url, "flood_limit": 2}],
                         targets=[hook("a")])
    rt.poll("blogger")
    feed_server.put("/feed", posts(3))  # three old posts back: the breaker holds them
    rt.dispatcher.health.mark_broken("a", "credentials rejected by X: no", "c")
    made = plan_mod.make(rt)
    assert made.sources[0].status == "held" and len(made.sources[0].held) == 3
    result = rt.poll("blogger")
    assert len(result.held) == 3 and q.deliveries == []
    assert plan_mod.make(rt).sources[0].status == "not-modified"
