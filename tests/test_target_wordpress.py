"""WordPress adapter against a loopback core REST API."""

from __future__ import annotations

import pytest

from .adapter_contract import AdapterContract, Case
from .fakes.http import Reply
from .fakes.wordpress import APP_PASSWORD, USER, WordpressServer, wp_error
from .helpers import new_entry


@pytest.fixture
def server(wordpress: WordpressServer) -> WordpressServer:
    return wordpress


def target(server: WordpressServer) -> dict[str, object]:
    return {"kind": "wordpress", "base_url": server.url, "username": USER,
            "app_password": APP_PASSWORD}


@pytest.fixture
def case(server: WordpressServer) -> Case:
    def seed(link: str) -> None:
        slug = link.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
        server.posts.append({
            "id": 9, "slug": slug, "link": f"{server.url}/{slug}/", "status": "publish",
            "title": {"raw": "Post 1"},
            "content": {"raw": f'<p>An earlier copy.</p>\n<p><em>Originally published at '
                               f'<a href="{link}">Sanjay Basu</a>.</em></p>'}})

    return Case(
        server=server, target=target(server), wrong_credentials={"app_password": "wrong pass"},
        invalid=wp_error(400, "rest_invalid_param", "Invalid parameter(s): status"),
        invalid_words="Invalid parameter(s): status",
        canonical=lambda p: p["content"]["raw"].rsplit('href="', 1)[1].split('"', 1)[0],
        body=lambda p: p["content"]["raw"], seed=seed,
        server_error=Reply(500, {"code": "internal_server_error", "message": "There has been a "
                                 "critical error on this website.", "data": {"status": 500}}),
    )


def test_tags_are_created_first_and_sent_as_ids(make_runtime, server) -> None:
    rt, _ = make_runtime(targets=[{"name": "w", **target(server)}])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "w").state == "delivered"
    (post,) = server.posts
    names = {t["id"]: t["name"] for t in server.tags}
    assert [names[i] for i in post["tags"]] == ["AI", "Machine Learning", "Philosophy"]
    assert post["tags"][2] == 7  # "Philosophy" existed: reused, not created again
    assert post["slug"] == "post-1" and post["status"] == "publish"


class TestWordpressContract(AdapterContract):
    """Every blog target's contract, against the loopback Wordpress API."""
