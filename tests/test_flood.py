"""The flood breaker: more than `flood_limit` new entries in one poll are held for a person."""

from __future__ import annotations

from .conftest import OUTBOUND_SECRET, fixture_bytes
from .test_poller import NEW_POST, with_new_post


def posts(n: int, *, fresh: bool = False) -> bytes:
    """The fixture feed with `n` posts it did not have: old ones brought back (a rewrite, a
    migration, changed guids), or, with `fresh`, new ones dated after everything before."""
    feed = fixture_bytes("blogger-atom.xml")
    for i in range(n):
        post = NEW_POST.replace("1111111111111111111", f"90000000000000{i:05d}").replace(
            "a-new-post", f"flood-{i}").replace("A New Post", f"Rewritten {i}")
        if not fresh:
            post = post.replace("2025-12-10T09:00", f"2019-03-{i + 1:02d}T09:00")
        feed = with_new_post(feed, post)
    return feed


MAIL = {"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": 9, "security": "none",
        "from": "a@home.example", "to": ["b@home.example"], "per_task": 4}


def runtime(make_runtime, feed_server, limit: int = 5, *, more=()):
    url = feed_server.put("/feed", fixture_bytes("blogger-atom.xml"))
    rt, q = make_runtime(sources=[{"name": "blogger", "url": url, "flood_limit": limit}],
                         targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/x", "secret": OUTBOUND_SECRET},
                                  *more])
    rt.poll("blogger")  # the baseline
    return rt, q


def test_a_flood_is_held_then_approved(make_runtime, feed_server) -> None:
    rt, q = runtime(make_runtime, feed_server, more=[MAIL])
    feed_server.put("/feed", posts(6))
    result = rt.poll("blogger")
    assert result.status == "held" and len(result.held) == 6 and result.new == []
    assert q.deliveries == [] and rt.store.outbox() == []
    rows = [d for d in rt.deliveries() if d["state"] == "held"]
    assert len(rows) == 12
    assert "flood breaker: 6 old entries came back as new in one poll of blogger" in rows[0][
        "last_error"]
    rt.dispatcher.reconcile(now=10**10)  # the reconciler never lets a held entry out
    assert q.deliveries == []
    approved = rt.approve("blogger")
    assert len(approved) == 6
    assert len(q.deliveries) == 12 and rt.store.held() == {}
    assert {d["state"] for d in rt.deliveries()} == {"pending"}
    # Approved together, as a poll's new entries: the email in runs of `per_task`.
    assert sorted(len(run) for run in q.runs if run[0][1] == "mail") == [2, 4]


def test_discard_one_approve_the_rest(make_runtime, feed_server) -> None:
    rt, q = runtime(make_runtime, feed_server)
    feed_server.put("/feed", posts(7))
    held = rt.poll("blogger").held
    assert rt.discard(held[0]) == [held[0]]
    assert len(rt.approve("blogger")) == 6
    assert held[0] not in {e for e, _ in q.deliveries}
    # The discarded entry is known: polling again never brings it back as new.
    assert rt.poll("blogger").status in ("not-modified", "unchanged")


def test_under_the_limit_goes_through(make_runtime, feed_server) -> None:
    rt, q = runtime(make_runtime, feed_server)
    feed_server.put("/feed", posts(5))
    assert rt.poll("blogger").status == "new" and len(q.deliveries) == 5


def test_cli_approve_and_discard(make_runtime, feed_server, tmp_path, redis_url, prefix) -> None:
    import subprocess
    import sys

    from .service import write_config

    rt, q = runtime(make_runtime, feed_server, limit=1)
    feed_server.put("/feed", posts(3))
    held = rt.poll("blogger").held
    cfg = write_config(tmp_path / "c.toml", sources=[{"name": "blogger",
                                                      "url": rt.config.sources[0].url}],
                       targets=[], webhook_secret=OUTBOUND_SECRET)
    env = {"REDIS_URL": redis_url, "SYNDICATE_REDIS_PREFIX": prefix, "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syndicate", *args, "--config", str(cfg)],
                              capture_output=True, text=True, env=env, timeout=60)

    status = cli("status")
    assert status.stdout.count("held") == 0  # no targets configured in that file: no rows
    assert cli("discard", held[0]).stdout.strip() == "1 held entries discarded"
    assert cli("approve", "blogger").stdout.strip() == "2 held entries approved and queued"
    assert "no source or entry is known by 'nope'" in cli("approve", "nope").stderr


def test_fresh_posts_after_a_killed_poll_are_never_held(make_runtime, feed_server) -> None:
    """A worker died during a poll, so the next one sees two rounds of new posts at once: they
    are fresh (dated after everything the source had), and all of them go out."""
    rt, q = runtime(make_runtime, feed_server)
    feed_server.put("/feed", posts(8, fresh=True))
    result = rt.poll("blogger")
    assert result.status == "new" and len(result.new) == 8 and result.held == []
    assert len(q.deliveries) == 8


def test_a_rewrite_of_old_posts_is_held_beside_fresh_ones(make_runtime, feed_server) -> None:
    rt, q = runtime(make_runtime, feed_server)
    feed_server.put("/feed", with_new_post(posts(8), NEW_POST))  # 8 old back, 1 really new
    result = rt.poll("blogger")
    assert result.status == "held" and len(result.held) == 8 and len(result.new) == 1
    assert len(q.deliveries) == 1
