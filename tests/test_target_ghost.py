"""Ghost adapter against a loopback Admin API that checks the JWT as Ghost does."""

from __future__ import annotations

import pytest

from syndicate.errors import ConfigError
from syndicate.targets.ghost import ghost_token

from .adapter_contract import AdapterContract, Case
from .fakes.ghost import ADMIN_KEY, KEY_ID, GhostServer, ghost_error
from .helpers import new_entry

WRONG_KEY = KEY_ID + ":" + "00" * 32


@pytest.fixture
def server(ghost: GhostServer) -> GhostServer:
    return ghost


@pytest.fixture
def case(server: GhostServer) -> Case:
    def seed(link: str) -> None:
        server.posts.append({"id": "0" * 23 + "f", "url": f"{server.url}/x/", "slug": "x",
                             "canonical_url": link, "updated_at": "2025-01-01T00:00:00.000Z",
                             "html": "", "status": "published"})

    return Case(
        server=server, target={"kind": "ghost", "admin_url": server.url, "admin_key": ADMIN_KEY},
        wrong_credentials={"admin_key": WRONG_KEY},
        invalid=ghost_error(422, "ValidationError", "Validation error, cannot save post.",
                            "Value in [posts.title] cannot be blank."),
        invalid_words="ValidationError: Validation error, cannot save post.: Value in "
                      "[posts.title] cannot be blank.",
        canonical=lambda p: p["canonical_url"], body=lambda p: p["html"], seed=seed,
    )


def test_html_card_source_query_and_newsletter(make_runtime, server) -> None:
    rt, _ = make_runtime(targets=[{"name": "g", "kind": "ghost", "admin_url": server.url,
                                   "admin_key": ADMIN_KEY, "newsletter": "weekly",
                                   "segment": "status:free"}])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "g").state == "delivered"
    (post,) = server.posts
    # Kept only because source=html was in the query string.
    assert post["html"].startswith("<!--kg-card-begin: html-->")
    assert "<table>" in post["html"] and 'class="language-python"' in post["html"]
    assert post["status"] == "published"
    assert [t["name"] for t in post["tags"]] == ["AI", "Machine Learning", "Philosophy"]
    assert server.newsletter_sends == [("weekly", "status:free")]


def test_token_is_what_ghost_checks() -> None:
    import jwt

    token = ghost_token(ADMIN_KEY, now=1_700_000_000)
    assert jwt.get_unverified_header(token)["kid"] == KEY_ID
    claims = jwt.decode(token, bytes.fromhex(ADMIN_KEY.split(":")[1]), algorithms=["HS256"],
                        audience="/admin/", options={"verify_exp": False})
    assert claims == {"iat": 1_700_000_000, "exp": 1_700_000_300, "aud": "/admin/"}


def test_update_collision_is_retried(make_runtime, server) -> None:
    from .helpers import drive, edit_entry

    rt, _ = make_runtime(targets=[{"name": "g", "kind": "ghost", "admin_url": server.url,
                                   "admin_key": ADMIN_KEY}])
    eid = new_entry(rt)
    rt.dispatcher.deliver(eid, "g")
    edit_entry(rt, eid, "<p>Second thoughts.</p>")
    server.faults.append(ghost_error(409, "UpdateCollisionError", "Saving failed!",
                                     "UPDATE_COLLISION"))
    out = rt.dispatcher.deliver(eid, "g")
    assert out.state == "failed" and "UPDATE_COLLISION" in out.error
    assert drive(rt, eid, "g").state == "delivered"
    assert "Second thoughts." in server.posts[0]["html"] and len(server.posts) == 1


def test_bad_admin_key_is_a_config_error(make_runtime, server) -> None:
    with pytest.raises(ConfigError, match=r"targets\[g\].admin_key: expected 'id:secret'"):
        make_runtime(targets=[{"name": "g", "kind": "ghost", "admin_url": server.url,
                               "admin_key": "not-a-key"}])


class TestGhostContract(AdapterContract):
    """Every blog target's contract, against the loopback Ghost API."""
