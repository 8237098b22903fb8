"""The ledger's state machine: one claim at a time, fencing, and worker death."""

from __future__ import annotations

from syndicate.keys import Keys
from syndicate.ledger import Ledger


def test_create_once_and_claim_once(r, prefix) -> None:
    led = Ledger(r, Keys(prefix))
    assert led.create("e1", "devto", now=100)
    assert not led.create("e1", "devto", now=101)  # a second fan-out opens nothing
    first = led.claim("e1", "devto", lease=30, safe_to_resend=False, now=100)
    assert first.ok and first.fence == 1 and first.attempts == 1
    second = led.claim("e1", "devto", lease=30, safe_to_resend=False, now=101)
    assert second.outcome == "busy"
    assert led.finish("e1", "devto", first.fence, "delivered", now=102, remote_url="u")
    assert led.claim("e1", "devto", lease=30, safe_to_resend=False, now=103).outcome == "delivered"
    assert led.get("e1", "devto").remote_url == "u"


def test_stale_claim_cannot_finish(r, prefix) -> None:
    led = Ledger(r, Keys(prefix))
    led.create("e1", "hook", now=100)
    old = led.claim("e1", "hook", lease=10, safe_to_resend=True, now=100)
    # The first worker stalls past its lease; another takes the record over.
    new = led.claim("e1", "hook", lease=10, safe_to_resend=True, now=111)
    assert new.ok and new.fence == old.fence + 1
    assert not led.on_wire("e1", "hook", old.fence)
    assert not led.finish("e1", "hook", old.fence, "delivered", now=112)
    assert led.finish("e1", "hook", new.fence, "delivered", now=112)


def test_worker_death_after_sending(r, prefix) -> None:
    led = Ledger(r, Keys(prefix))
    for target in ("smtp", "devto"):
        led.create("e1", target, now=100)
        c = led.claim("e1", target, lease=10, safe_to_resend=target == "devto", now=100)
        assert led.on_wire("e1", target, c.fence)
    # The worker died with the request on the wire. A target that can check is retried (its
    # adapter looks first); one that cannot is `unknown`, never sent twice.
    assert led.claim("e1", "smtp", lease=10, safe_to_resend=False, now=120).outcome == "unknown"
    assert led.get("e1", "smtp").state == "unknown"
    assert led.claim("e1", "devto", lease=10, safe_to_resend=True, now=120).ok


def test_worker_death_before_sending_is_retried(r, prefix) -> None:
    led = Ledger(r, Keys(prefix))
    led.create("e1", "smtp", now=100)
    led.claim("e1", "smtp", lease=10, safe_to_resend=False, now=100)
    again = led.claim("e1", "smtp", lease=10, safe_to_resend=False, now=111)
    assert again.ok and again.attempts == 2


def test_due_and_retry_timing(r, prefix) -> None:
    led = Ledger(r, Keys(prefix))
    led.create("e1", "t", now=100, due_at=130)
    assert led.take_due(now=120) == []
    assert led.take_due(now=130) == [("e1", "t")]
    assert led.take_due(now=131) == []  # pushed forward: not enqueued on every tick
    c = led.claim("e1", "t", lease=10, safe_to_resend=True, now=131)
    led.finish("e1", "t", c.fence, "failed", next_at=200, now=132, last_error="HTTP 500")
    assert led.claim("e1", "t", lease=10, safe_to_resend=True, now=150).outcome == "early"
    assert led.take_due(now=199) == []
    assert led.take_due(now=200) == [("e1", "t")]
    c = led.claim("e1", "t", lease=10, safe_to_resend=True, now=200)
    assert c.ok and c.attempts == 2
    led.finish("e1", "t", c.fence, "dead", now=201, last_error="HTTP 422")
    assert led.take_due(now=10_000) == []
