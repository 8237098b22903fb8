"""Mailchimp adapter: three steps, each recorded, a crash anywhere resumes one campaign."""

from __future__ import annotations

import pytest

from syndicate.errors import ConfigError

from .fakes.mailchimp import API_KEY, LIST_ID, MailchimpServer, problem
from .helpers import drive, new_entry


@pytest.fixture
def server(mailchimp: MailchimpServer) -> MailchimpServer:
    return mailchimp


def runtime(make_runtime, server, **kw):
    rt, _ = make_runtime(targets=[{"name": "mc", "kind": "mailchimp", "api_key": API_KEY,
                                   "list_id": LIST_ID, "from_name": "Sanjay Basu",
                                   "reply_to": "posts@home.example",
                                   "base_url": server.url + "/3.0", **kw}])
    return rt


def test_three_steps(make_runtime, server) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "mc").state == "delivered"
    (camp,) = server.posts
    assert camp["status"] == "sent" and server.sends == 1
    assert camp["settings"]["title"].startswith(f"syndicate {eid}: ")
    assert camp["settings"]["subject_line"] == "Post 1"
    html = camp["content"]["html"]
    assert 'href="https://mind.blogspot.example/2025/12/post-1.html"' in html
    assert "<style" not in html and 'style="' in html  # CSS inlined for mail clients
    assert "https://mind.blogspot.example/2025/12/post-1.html" in camp["content"]["plain_text"]


@pytest.mark.parametrize("step", ["create", "content", "send"])
def test_a_crash_after_any_step_resumes_the_same_campaign(make_runtime, server, step) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    server.faults += {"create": ["commit-then-drop"], "content": [None, "commit-then-drop"],
                      "send": [None, None, "commit-then-drop"]}[step]
    assert rt.dispatcher.deliver(eid, "mc").state == "failed"
    assert drive(rt, eid, "mc").state == "delivered"
    assert len(server.posts) == 1 and server.sends == 1
    assert rt.ledger.get(eid, "mc").remote_id == server.posts[0]["id"]


class WorkerDied(BaseException):
    """Escapes every `except Exception`, as a killed process would."""


def test_a_dead_worker_between_steps(make_runtime, server, monkeypatch) -> None:
    import time

    rt = runtime(make_runtime, server)
    monkeypatch.setattr(rt.dispatcher, "lease_for", lambda cfg: 0.2)
    eid = new_entry(rt)
    target = rt.dispatcher.target("mc")
    real_call = target.call

    def dies_on_content(request, **kw):
        if request.url.endswith("/content"):
            raise WorkerDied
        return real_call(request, **kw)

    monkeypatch.setattr(target, "call", dies_on_content)
    with pytest.raises(WorkerDied):
        rt.dispatcher.deliver(eid, "mc")
    assert rt.ledger.get(eid, "mc").state == "sending"  # the campaign exists, the worker is gone
    monkeypatch.setattr(target, "call", real_call)
    assert rt.dispatcher.deliver(eid, "mc").state == "busy"  # its lease still holds
    time.sleep(0.25)
    assert drive(rt, eid, "mc").state == "delivered"
    assert len(server.posts) == 1 and server.sends == 1


def test_errors(make_runtime, server) -> None:
    rt = runtime(make_runtime, server)
    eid = new_entry(rt)
    server.faults.append(problem(400, "Invalid Resource", "settings.reply_to is invalid."))
    out = rt.dispatcher.deliver(eid, "mc")
    assert out.state == "dead" and "Invalid Resource: settings.reply_to is invalid." in out.error
    bad = runtime(make_runtime, server, api_key="ffffffffffffffffffffffffffffffff-us21")
    other = new_entry(bad, 2)
    assert bad.dispatcher.deliver(other, "mc").state == "failed"
    assert "API Key Invalid" in bad.ledger.get(other, "mc").last_error


def test_data_centre_from_the_key(make_runtime) -> None:
    from syndicate.targets.mailchimp import MailchimpTarget

    rt, _ = make_runtime(targets=[{"name": "mc", "kind": "mailchimp", "api_key": API_KEY,
                                   "list_id": LIST_ID, "from_name": "S", "reply_to": "a@b.c"}])
    target = rt.dispatcher.target("mc")
    assert isinstance(target, MailchimpTarget)
    assert target.base_url == "https://us21.api.mailchimp.com/3.0"
    with pytest.raises(ConfigError, match="data centre"):
        make_runtime(targets=[{"name": "mc", "kind": "mailchimp", "api_key": "nodc",
                               "list_id": LIST_ID, "from_name": "S", "reply_to": "a@b.c"}])
