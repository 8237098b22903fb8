"""Medium adapter against a loopback Medium API (no lookup, no idempotency: unknown on timeout)."""

from __future__ import annotations

import pytest

from .adapter_contract import AdapterContract, Case
from .fakes.http import Reply
from .fakes.medium import TOKEN, MediumServer
from .helpers import new_entry


@pytest.fixture
def server(medium: MediumServer) -> MediumServer:
    return medium


@pytest.fixture
def case(server: MediumServer) -> Case:
    return Case(
        server=server, target={"kind": "medium", "token": TOKEN, "base_url": server.url},
        wrong_credentials={"token": "expired-token"},
        invalid=Reply(400, {"errors": [{"message": "Post must have a title and content.",
                                        "code": 6009}]}),
        invalid_words="Post must have a title and content.",
        canonical=lambda p: p["canonicalUrl"], body=lambda p: p["content"],
        seed=None, can_update=False,
    )


def test_post_fields(make_runtime, server) -> None:
    rt, _ = make_runtime(targets=[{"name": "m", "kind": "medium", "token": TOKEN,
                                   "base_url": server.url, "publish_status": "draft"}])
    title = "Parallel-Processing Titans: How NVIDIA’s H100 and Huawei’s Ascend 910C Execute " \
            "Matrix Math and Dot-Product Workloads in Modern AI"
    first = new_entry(rt, 1, title=title,
                      categories=["AI", "A category name much longer than 25 chars", "GPU", "X"])
    second = new_entry(rt, 2)
    for eid in (first, second):
        assert rt.dispatcher.deliver(eid, "m").state == "delivered"
    post = server.posts[0]
    assert len(post["title"]) <= 100 and post["title"].endswith("…")
    assert post["title"].startswith("Parallel-Processing Titans: How NVIDIA’s H100")
    assert post["tags"] == ["AI", "A category name much long", "GPU"]
    assert post["publishStatus"] == "draft" and post["contentFormat"] == "html"
    assert server.me_calls == 1  # the author id is looked up once


def test_edit_is_not_queued_by_default(make_runtime, server) -> None:
    from syndicate.errors import ConfigError

    with pytest.raises(ConfigError, match="cannot edit"):
        make_runtime(targets=[{"name": "m", "kind": "medium", "token": TOKEN,
                               "base_url": server.url, "on_edit": "update"}])


class TestMediumContract(AdapterContract):
    """Every blog target's contract, against the loopback Medium API."""
