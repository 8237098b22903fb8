"""One table of what a person may do (ledger.TRANSITIONS), followed alike by the command line
and the status page: every action from every state, through both, gives the same answer."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from syndicate import cli
from syndicate.ledger import STATES, TRANSITIONS
from syndicate.web import create_app

from .conftest import OUTBOUND_SECRET
from .helpers import new_entry

TOKEN = "admin-token-0123456789"
URL = "https://dev.to/sanjay/the-copy"
CLI_ARGS = {"retry": lambda e: ["retry", e, "--target", "hook"],
            "resolve": lambda e: ["resolve", e, "hook", "--delivered", URL],
            "give_up": lambda e: ["resolve", e, "hook", "--discard"]}
PAGE = {"retry": "retry", "resolve": "resolve", "give_up": "give-up"}


@pytest.fixture
def rt(make_runtime):
    rt, _ = make_runtime(targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/x", "secret": OUTBOUND_SECRET}],
                         admin={"token": TOKEN})
    return rt


def record_in(rt, n: int, state: str) -> str:
    eid = new_entry(rt, n)
    rt.redis.hset(rt.keys.delivery(eid, "hook"), "state", state)
    return eid


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_every_action_from_every_state_alike(rt, monkeypatch, action: str) -> None:
    monkeypatch.setattr(cli, "runtime_for", lambda _p: rt)
    client = create_app(rt).test_client()
    allowed, to = TRANSITIONS[action]
    n = 0
    for state in STATES:
        n += 2
        by_cli, by_page = record_in(rt, n, state), record_in(rt, n + 1, state)
        CliRunner().invoke(cli.main, CLI_ARGS[action](by_cli))
        client.post(f"/actions/{PAGE[action]}", headers={"Authorization": f"Bearer {TOKEN}"},
                    data={"entry": by_page, "target": "hook", "url": URL})
        got = (rt.ledger.get(by_cli, "hook").state, rt.ledger.get(by_page, "hook").state)
        want = to if state in allowed else state
        assert got == (want, want), (action, state, got)


def test_sending_is_never_an_operators_to_change() -> None:
    assert all("sending" not in allowed for allowed, _ in TRANSITIONS.values())
