"""The behaviour every blog target must show, run against its loopback platform.

A test file per adapter subclasses `AdapterContract` and supplies a `case` fixture (a `Case`);
pytest then runs every test of the contract for that adapter.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from .fakes.http import Reply
from .helpers import drive, edit_entry, new_entry


@dataclass
class Case:
    server: Any  # the running loopback platform (has .posts, .faults)
    target: dict[str, Any]  # the [[targets]] table, pointing at the server
    wrong_credentials: dict[str, Any]  # overrides that make auth fail
    invalid: Reply  # the platform's validation error, as it answers one
    invalid_words: str  # what the dead delivery's message must carry
    canonical: Callable[[dict[str, Any]], str]  # the canonical URL a stored post carries
    body: Callable[[dict[str, Any]], str]  # the stored post's content
    seed: Callable[[str], None] | None = None  # put a post with this canonical URL there
    replays: bool = False  # the platform answers a repeated create with the first copy
    web: str = ""  # where the copies are read on the web, when not on the API's host
    can_update: bool = True
    rate_limited: Reply = field(default_factory=lambda: Reply(
        429, {"error": "Too Many Requests"}, {"Retry-After": "7"}))
    server_error: Reply = field(default_factory=lambda: Reply(500, {"error": "oops"}))


def runtime(make_runtime: Any, case: Case, **overrides: Any) -> Any:
    rt, _ = make_runtime(targets=[{"name": "blog", **case.target, **overrides}])
    return rt


class AdapterContract:
    """Subclass it as `class Test<Adapter>(AdapterContract)` beside a `case` fixture."""

    def test_create_points_home(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        (post,) = case.server.posts
        link = "https://mind.blogspot.example/2025/12/post-1.html"
        assert case.canonical(post) == link
        assert link in case.body(post)  # the footer links home too
        d = rt.ledger.get(eid, "blog")
        assert d.state == "delivered" and d.remote_id
        assert d.remote_url.startswith(case.web or case.server.url)
        # Another wake-up call for the same delivery sends nothing.
        assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        assert len(case.server.posts) == 1

    def test_existing_copy_is_adopted(self, make_runtime: Any, case: Case) -> None:
        if case.seed is None:
            pytest.skip("the platform cannot list an author's posts")
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        case.seed("https://mind.blogspot.example/2025/12/post-1.html")  # e.g. Redis was wiped
        assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        assert len(case.server.posts) == 1
        d = rt.ledger.get(eid, "blog")
        assert d.extra.get("adopted") == "1" and d.remote_id

    def test_same_slug_other_post_is_never_adopted(self, make_runtime: Any, case: Case) -> None:
        """A post already there with this one's slug and title but another canonical URL (a
        Blogger slug reused months later, or `hello-world`) is someone else's: a new copy is
        made, and neither the create nor a later edit touches the other post."""
        if case.seed is None:
            pytest.skip("the platform cannot list an author's posts")
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        case.seed("https://mind.blogspot.example/2019/03/post-1.html")
        other = copy.deepcopy(case.server.posts[0])
        assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        assert len(case.server.posts) == 2
        d = rt.ledger.get(eid, "blog")
        assert d.extra.get("adopted") != "1"
        edit_entry(rt, eid, "<p>A correction, added later.</p>")
        if case.can_update:
            assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        (now,) = [p for p in case.server.posts if p.get("id") == other.get("id")]
        assert now == other  # untouched throughout

    def test_edit_updates_in_place(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        writes = case.server.writes
        edit_entry(rt, eid, "<p>A correction, added later.</p>")
        if not case.can_update:
            assert rt.ledger.get(eid, "blog").state == "delivered"  # on_edit defaults to ignore
            assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
            assert case.server.writes == writes
            return
        assert rt.ledger.get(eid, "blog").state == "pending"
        assert rt.dispatcher.deliver(eid, "blog").state == "delivered"
        (post,) = case.server.posts
        assert "A correction, added later." in case.body(post)
        assert rt.ledger.get(eid, "blog").extra.get("op", "") == ""

    def test_edit_ignored_when_configured(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case, on_edit="ignore")
        eid = new_entry(rt)
        rt.dispatcher.deliver(eid, "blog")
        edit_entry(rt, eid)
        assert rt.ledger.get(eid, "blog").state == "delivered"

    def test_401_marks_target_broken(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case, **case.wrong_credentials)
        eid = new_entry(rt)
        out = rt.dispatcher.deliver(eid, "blog")
        assert out.state == "failed"
        d = rt.ledger.get(eid, "blog")
        assert d.last_error.startswith("target broken:") and d.attempts == 0
        for secret in case.wrong_credentials.values():
            assert str(secret) not in d.last_error
        assert case.server.posts == []

    def test_validation_error_is_dead_with_the_platform_message(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        case.server.faults.append(case.invalid)
        out = rt.dispatcher.deliver(eid, "blog")
        assert out.state == "dead"
        assert case.invalid_words in rt.ledger.get(eid, "blog").last_error

    def test_429_waits_for_retry_after(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        case.server.faults.append(case.rate_limited)
        before = time.time()
        out = rt.dispatcher.deliver(eid, "blog")
        assert out.state == "failed" and out.retry_in is not None and out.retry_in >= 7
        assert rt.ledger.get(eid, "blog").next_at >= before + 7
        assert rt.dispatcher.deliver(eid, "blog").state == "early"

    def test_500_then_success(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        case.server.faults.append(case.server_error)
        assert rt.dispatcher.deliver(eid, "blog").state == "failed"
        assert drive(rt, eid, "blog").state == "delivered"
        assert len(case.server.posts) == 1

    def test_timeout_after_success(self, make_runtime: Any, case: Case) -> None:
        rt = runtime(make_runtime, case)
        eid = new_entry(rt)
        case.server.faults.append("commit-then-drop")
        out = drive(rt, eid, "blog")
        assert len(case.server.posts) == 1  # never a second copy
        if case.replays:  # the idempotency key: the retry got the first copy back
            assert out.state == "delivered"
        elif case.seed is None:
            assert out.state == "unknown"
            assert "may have the post" in rt.ledger.get(eid, "blog").last_error
            assert rt.dispatcher.deliver(eid, "blog").state == "unknown"  # not retried on its own
        else:
            assert out.state == "delivered"
            assert rt.ledger.get(eid, "blog").extra.get("adopted") == "1"
