"""Digests: one email per period listing what arrived, however many ticks and restarts."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from syndicate.errors import ConfigError

from .helpers import new_entry


def digest_target(smtp, **kw):
    return {"name": "weekly", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
            "security": "none", "from": "Sanjay <posts@home.example>",
            "to": ["reader@home.example"], "mode": "digest", "schedule": "0 8 * * MON",
            "timezone": "Europe/Berlin", **kw}


def send(rt, digest_id: str, target: str) -> str:
    """Deliver a digest opened at a simulated future time, as if that time had come."""
    rt.redis.hset(rt.keys.delivery(digest_id, target), "next_at", 0)
    return str(rt.dispatcher.deliver(digest_id, target).state)


def monday_8am(weeks_from_now: int = 0) -> float:
    tz = ZoneInfo("Europe/Berlin")
    now = datetime.now(tz)
    days = (7 - now.weekday()) % 7 or 7
    base = now.replace(hour=8, minute=0, second=0, microsecond=0)
    return base.timestamp() + (days + 7 * weeks_from_now) * 86400


def test_one_digest_per_period(make_runtime, smtp) -> None:
    rt, q = make_runtime(targets=[digest_target(smtp)])
    ids = [new_entry(rt, n, image=f"https://mind.blogspot.example/img/{n}.png") for n in (1, 2, 3)]
    assert q.deliveries == [] and rt.ledger.all() == []  # collected, not sent one by one
    d = rt.dispatcher.digests
    assert d.close_due() == []  # the period started before the target: nobody is owed one
    first = monday_8am()
    opened = d.close_due(now=first + 60)
    assert len(opened) == 1
    digest_id, target = opened[0]
    # The same period again, from this scheduler, another one, or after a restart: nothing.
    assert d.close_due(now=first + 120) == []
    again, _ = make_runtime(targets=[digest_target(smtp)])
    assert again.dispatcher.digests.close_due(now=first + 3600) == []
    assert send(rt, digest_id, target) == "delivered"
    (msg,) = smtp.messages
    assert msg["Subject"] == "Sanjay Basu: 3 new posts"
    html = msg.get_body(("html",)).get_content()
    for eid in ids:
        e = rt.store.get(eid)
        assert f'href="{e.link}"' in html and e.title in html
    assert 'src="https://mind.blogspot.example/img/2.png"' in html
    text = msg.get_body(("plain",)).get_content()
    assert "https://mind.blogspot.example/2025/12/post-3.html" in text
    # Next week: nothing new, no email. Then one new post: a digest with just it.
    assert d.close_due(now=monday_8am(1) + 60) == []
    new_entry(rt, 4)
    (later,) = d.close_due(now=monday_8am(2) + 60)
    assert send(rt, *later) == "delivered"
    assert smtp.messages[1]["Subject"] == "Post 4"
    assert d.items(later[0]) == [rt.store.find(
        "https://mind.blogspot.example/2025/12/post-4.html").id]


def test_ticks_close_digests_and_wake_a_worker(make_runtime, smtp) -> None:
    rt, q = make_runtime(targets=[digest_target(smtp, schedule="* * * * *")])
    new_entry(rt)
    rt.redis.set(rt.keys.digest("since", "weekly"), repr(time.time() - 120))
    assert rt.tick()["digests"] == 1
    assert rt.tick()["digests"] == 0
    assert len(q.deliveries) == 1 and q.deliveries[0][0].startswith("digest-")


@pytest.mark.parametrize(("kw", "key", "words"), [
    ({"schedule": "every monday"}, "schedule", "cron expression"),
    ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"mode": "weekly"}, "mode", "'each' or 'digest'"),
])
def test_digest_config_errors(make_runtime, smtp, kw, key, words) -> None:
    with pytest.raises(ConfigError) as exc:
        make_runtime(targets=[digest_target(smtp, **kw)])
    assert exc.value.key == f"targets[weekly].{key}" and words in str(exc.value)
