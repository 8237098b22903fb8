"""What happens after an attempt, as a table: `dispatcher.decide` is pure, so every row is one
line here, including the ones no loopback platform would easily produce."""

from __future__ import annotations

import pytest

from syndicate.dispatcher import LeaseLost, decide
from syndicate.errors import (
    AmbiguousError,
    DeliveryError,
    PermanentError,
    RateLimited,
    TargetBroken,
    TransientError,
)

ROWS = [
    # error, safe_to_resend, wired, attempts (of 3): state, hint, cool_down
    (LeaseLost("taken over"), False, True, 1, "busy", None, None),
    (RateLimited("our own count", retry_after=4.0), False, False, 1, "pending", 4.0, None),
    (RateLimited("our own count"), False, False, 3, "pending", 1.0, None),  # never dead
    (TargetBroken("401"), False, False, 3, "broken", None, None),  # never dead either
    (PermanentError("422 invalid"), True, True, 1, "dead", None, None),
    (AmbiguousError("timeout after sending"), False, True, 1, "unknown", None, None),
    (AmbiguousError("timeout after sending"), True, True, 1, "failed", None, None),
    (AmbiguousError("timeout after sending"), True, True, 3, "dead", None, None),
    (TransientError("503", retry_after=30.0), False, True, 1, "failed", 30.0, 30.0),
    (TransientError("503", retry_after=30.0), False, True, 3, "dead", None, 30.0),
    (TransientError("connection refused"), False, False, 2, "failed", None, None),
    (DeliveryError("odd"), False, True, 1, "failed", None, None),
    (KeyError("adapter bug"), False, True, 1, "unknown", None, None),  # after it left
    (KeyError("adapter bug"), False, False, 1, "failed", None, None),  # before it left
    (KeyError("adapter bug"), True, True, 1, "failed", None, None),
    (KeyError("adapter bug"), True, True, 3, "dead", None, None),
]


@pytest.mark.parametrize("exc, safe, wired, attempts, state, hint, cool", ROWS,
                         ids=[f"{type(r[0]).__name__}-{r[4]}-{i}" for i, r in enumerate(ROWS)])
def test_decide(exc, safe, wired, attempts, state, hint, cool) -> None:
    d = decide(exc, safe_to_resend=safe, wired=wired, attempts=attempts, max_attempts=3)
    assert (d.state, d.cool_down) == (state, cool)
    if state != "dead":
        assert d.hint == hint
    else:
        assert d.message.startswith("gave up after 3 attempts") or isinstance(
            exc, PermanentError)
