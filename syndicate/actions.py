"""What a person does about deliveries: retry, resolve, give up, approve, discard.

The command line and the status page call these and nothing else, so an action means the same
wherever it is taken; which states allow it is `ledger.TRANSITIONS`.
"""

from __future__ import annotations

from typing import Any, cast

from .errors import SyndicateError
from .ledger import TRANSITIONS
from .runtime import Runtime
from .urls import safe_url


class ActionRefused(SyndicateError):
    """The delivery is in a state the action does not apply to (or is not there)."""


def _move(rt: Runtime, action: str, entry_id: str, target: str, **fields: str | int) -> None:
    allowed, state = TRANSITIONS[action]
    res = rt.ledger.set_state(entry_id, target, state, allowed_from=tuple(sorted(allowed)),
                              **cast(dict[str, Any], fields))
    if res == "missing":
        raise ActionRefused(f"{entry_id} -> {target}: no such delivery")
    if res != "ok":
        raise ActionRefused(f"{entry_id} -> {target} is {res}: cannot {action.replace('_', ' ')} "
                            f"(only from {', '.join(sorted(allowed))})")


def retry(rt: Runtime, entry_id: str, target: str) -> str:
    """Send it again now, with its attempts counted afresh."""
    _move(rt, "retry", entry_id, target, attempts=0, last_error="")
    rt.queue.deliver(entry_id, target)
    return f"Sending {entry_id} to {target} again."


def resolve(rt: Runtime, entry_id: str, target: str, url: str) -> str:
    """The target has it, at `url` (a person checked)."""
    if not safe_url(url):
        raise ActionRefused("give the http(s) URL where the target has the post")
    _move(rt, "resolve", entry_id, target, remote_url=safe_url(url), last_error="")
    return f"Marked {entry_id} as delivered to {target}."


def give_up(rt: Runtime, entry_id: str, target: str) -> str:
    """Never send it to this target."""
    _move(rt, "give_up", entry_id, target, last_error="discarded by the operator")
    return f"{entry_id} will not be sent to {target}."


def approve(rt: Runtime, ref: str) -> list[str]:
    """Let entries the flood breaker held go (a source's, or one entry); the ids approved."""
    return rt.approve(ref)


def discard(rt: Runtime, ref: str) -> list[str]:
    """Never send entries the flood breaker held (they stay known); the ids discarded."""
    return rt.discard(ref)
