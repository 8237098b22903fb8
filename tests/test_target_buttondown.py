"""Buttondown adapter: explicit status, idempotency key replay, errors."""

from __future__ import annotations

import pytest

from .fakes.buttondown import API_KEY, ButtondownServer
from .fakes.http import Reply
from .helpers import drive, edit_entry, new_entry


@pytest.fixture
def server(buttondown: ButtondownServer) -> ButtondownServer:
    return buttondown


def runtime(make_runtime, server, **kw):
    rt, _ = make_runtime(targets=[{"name": "bd", "kind": "buttondown", "api_key": API_KEY,
                                   "base_url": server.url, **kw}])
    return rt


def test_status_is_always_explicit(make_runtime, server) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "bd").state == "delivered"
    (email,) = server.posts
    assert email["status"] == "draft" and server.sent == []  # never Buttondown's default
    assert email["canonical_url"] == "https://mind.blogspot.example/2025/12/post-1.html"
    assert 'href="https://mind.blogspot.example/2025/12/post-1.html"' in email["body"]


def test_send_maps_to_about_to_send(make_runtime, server) -> None:
    rt = runtime(make_runtime, server, status="send")
    eid = new_entry(rt)
    rt.dispatcher.deliver(eid, "bd")
    assert [e["status"] for e in server.sent] == ["about_to_send"]


def test_a_retry_after_a_lost_answer_replays_not_resends(make_runtime, server) -> None:
    rt = runtime(make_runtime, server, status="send")
    eid = new_entry(rt)
    server.faults.append("commit-then-drop")
    assert rt.dispatcher.deliver(eid, "bd").state == "failed"
    assert drive(rt, eid, "bd").state == "delivered"
    assert len(server.sent) == 1 and len(server.posts) == 1
    assert rt.ledger.get(eid, "bd").remote_id == server.posts[0]["id"]


def test_errors(make_runtime, server) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    server.faults.append(Reply(400, {"code": "email_duplicate", "detail": "Already exists."}))
    out = rt.dispatcher.deliver(eid, "bd")
    assert out.state == "dead" and "email_duplicate: Already exists." in out.error
    other = new_entry(rt, 2)
    server.faults.append(Reply(429, {"detail": "Request was throttled."}, {"Retry-After": "5"}))
    out = rt.dispatcher.deliver(other, "bd")
    assert out.state == "failed" and out.retry_in is not None and out.retry_in >= 5
    # The limit is the account's: every other delivery to this target waits too, unsent.
    third = new_entry(rt, 3)
    seen = server.requests_seen
    assert rt.dispatcher.deliver(third, "bd").state == "pending"
    assert server.requests_seen == seen
    assert rt.ledger.get(third, "bd").attempts == 0
    bad, _ = make_runtime(targets=[{"name": "bd2", "kind": "buttondown", "api_key": "nope",
                                    "base_url": server.url}])
    fourth = new_entry(bad, 4)
    assert bad.dispatcher.deliver(fourth, "bd2").state == "failed"
    assert bad.ledger.get(fourth, "bd2").last_error.startswith("target broken: HTTP 401")


def test_an_edit_never_sends_again(make_runtime, server) -> None:
    rt = runtime(make_runtime, server, status="send")
    eid = new_entry(rt)
    rt.dispatcher.deliver(eid, "bd")
    edit_entry(rt, eid)
    assert rt.ledger.get(eid, "bd").state == "delivered"
    assert rt.dispatcher.deliver(eid, "bd").state == "delivered" and len(server.sent) == 1
