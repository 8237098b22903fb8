"""listmonk adapter: create, then start; a crash in between resumes one campaign."""

from __future__ import annotations

import pytest

from .fakes.http import Reply
from .fakes.listmonk import TOKEN, USER, ListmonkServer
from .helpers import drive, edit_entry, new_entry


@pytest.fixture
def server(listmonk: ListmonkServer) -> ListmonkServer:
    return listmonk


def runtime(make_runtime, server, **kw):
    rt, _ = make_runtime(targets=[{"name": "lm", "kind": "listmonk", "base_url": server.url,
                                   "username": USER, "token": TOKEN, "list_ids": [3],
                                   "template_id": 2, **kw}])
    return rt


def test_create_then_start(make_runtime, server) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "lm").state == "delivered"
    (camp,) = server.posts
    assert camp["status"] == "running" and camp["lists"] == [3] and camp["template_id"] == 2
    assert camp["content_type"] == "html" and camp["name"].startswith(f"syndicate {eid}:")
    assert "https://mind.blogspot.example/2025/12/post-1.html" in camp["altbody"]


@pytest.mark.parametrize("step", ["create", "start"])
def test_a_crash_resumes_the_same_campaign(make_runtime, server, step) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    server.faults += ["commit-then-drop"] if step == "create" else [None, "commit-then-drop"]
    assert rt.dispatcher.deliver(eid, "lm").state == "failed"
    assert drive(rt, eid, "lm").state == "delivered"
    assert len(server.posts) == 1 and server.starts == 1


def test_errors_and_edits(make_runtime, server) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    server.faults.append(Reply(400, {"message": "invalid list IDs"}))
    out = rt.dispatcher.deliver(eid, "lm")
    assert out.state == "dead" and "invalid list IDs" in out.error
    ok = new_entry(rt, 2)
    rt.dispatcher.deliver(ok, "lm")
    edit_entry(rt, ok)
    assert rt.ledger.get(ok, "lm").state == "delivered" and server.starts == 1
    bad = runtime(make_runtime, server, token="wrong")
    third = new_entry(bad, 3)
    bad.dispatcher.deliver(third, "lm")
    assert "target broken: HTTP 403" in bad.ledger.get(third, "lm").last_error
