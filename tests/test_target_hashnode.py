"""Hashnode adapter against a loopback GraphQL API."""

from __future__ import annotations

import pytest

from .adapter_contract import AdapterContract, Case
from .fakes.hashnode import PUBLICATION, TOKEN, HashnodeServer, gql_error
from .helpers import new_entry


@pytest.fixture
def server(hashnode: HashnodeServer) -> HashnodeServer:
    return hashnode


def target(server: HashnodeServer) -> dict[str, object]:
    return {"kind": "hashnode", "token": TOKEN, "publication_id": PUBLICATION,
            "base_url": server.url}


@pytest.fixture
def case(server: HashnodeServer) -> Case:
    def seed(link: str) -> None:
        server.posts.append({"id": "66aa", "slug": "x", "url": f"{server.url}/x",
                             "canonicalUrl": link})

    return Case(
        server=server, target=target(server), wrong_credentials={"token": "revoked"},
        invalid=gql_error("BAD_USER_INPUT", "Title is required."),
        invalid_words="BAD_USER_INPUT: Title is required.",
        canonical=lambda p: p["canonicalUrl"], body=lambda p: p["contentMarkdown"], seed=seed,
    )


def test_markdown_and_tags(make_runtime, server) -> None:
    rt, _ = make_runtime(targets=[{"name": "h", **target(server)}])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "h").state == "delivered"
    (post,) = server.posts
    assert post["tags"] == [{"slug": "ai", "name": "AI"},
                            {"slug": "machine-learning", "name": "Machine Learning"},
                            {"slug": "philosophy", "name": "Philosophy"}]
    assert "| Cell | Heat |" in post["contentMarkdown"]
    assert post["originalArticleURL"] == "https://mind.blogspot.example/2025/12/post-1.html"


def test_forbidden_without_pro_is_permanent(make_runtime) -> None:
    server = HashnodeServer(pro=False).start()
    try:
        rt, _ = make_runtime(targets=[{"name": "h", **target(server)}])
        eid = new_entry(rt)
        out = rt.dispatcher.deliver(eid, "h")
        assert out.state == "dead" and "Hashnode Pro" in out.error and "not be retried" in out.error
        assert rt.dispatcher.deliver(eid, "h").state == "dead"
        assert server.writes == 1
    finally:
        server.stop()


def test_lookup_pages_through_the_publication(make_runtime, server) -> None:
    for i in range(45):
        server.posts.append({"id": f"p{i}", "slug": f"s{i}", "url": f"{server.url}/s{i}",
                             "canonicalUrl": f"https://elsewhere.example/{i}"})
    server.posts.insert(0, {"id": "old", "slug": "old", "url": f"{server.url}/old",
                            "canonicalUrl": "https://mind.blogspot.example/2025/12/post-1.html"})
    rt, _ = make_runtime(targets=[{"name": "h", **target(server)}])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "h").state == "delivered"
    assert rt.ledger.get(eid, "h").remote_id == "old" and server.writes == 0


class TestHashnodeContract(AdapterContract):
    """Every blog target's contract, against the loopback Hashnode API."""
