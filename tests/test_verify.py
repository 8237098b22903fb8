"""Every copy read back (verified / drift), credentials checked before a target is marked
broken, the original's date on the copy, and stand-ins that hold adapters to the platforms'
published API descriptions."""

from __future__ import annotations

import json
import time

import pytest
import requests

from syndicate.verify import Copy, compare
from syndicate.web import create_app

from .fakes.devto import API_KEY
from .fakes.http import Reply
from .fakes.wordpress import APP_PASSWORD, USER, wp_error
from .helpers import drive, new_entry

EMBED = ('<p>Watch:</p><iframe src="https://www.youtube.com/embed/abc" title="Talk"></iframe>'
         '<p>Then read <a href="https://a.example/x">this</a>.</p>')


def test_compare_names_what_changed() -> None:
    sent = Copy("A title that is rather long", EMBED + "<pre><code>x = 1</code></pre>")
    assert compare(sent, sent) == []
    got = Copy("A title that is", '<p>Watch:</p><p>Then read this.</p>')
    drift = compare(sent, got)
    assert "title cut to 15 characters" in drift
    assert "the platform removed 1 embed (iframe)" in drift
    assert "the platform removed 1 link" in drift
    assert "the platform removed 1 code block" in drift
    assert any(d.startswith("text changed") for d in drift)


def wp_target(server, **kw):
    return {"name": "wp", "kind": "wordpress", "base_url": server.url, "username": USER,
            "app_password": APP_PASSWORD, **kw}


def test_a_stripped_iframe_is_drift_shown_everywhere(make_runtime, wordpress) -> None:
    from click.testing import CliRunner

    from syndicate import cli

    wordpress.author_role = True
    rt, _ = make_runtime(targets=[wp_target(wordpress)], admin={"token": "admin-token-0123456789"})
    eid = new_entry(rt, content_html=EMBED)
    assert rt.dispatcher.deliver(eid, "wp").state == "delivered"
    (item,) = [d for d in rt.deliveries() if d["target"] == "wp"]
    assert item["verified"] is False
    assert item["drift"] == "the platform removed 1 embed (iframe)"
    page = create_app(rt).test_client().get(
        "/", headers={"Authorization": "Bearer admin-token-0123456789"}).get_data(as_text=True)
    assert "drift" in page and "removed 1 embed (iframe)" in page
    import unittest.mock as mock

    with mock.patch.object(cli, "runtime_for", lambda _p: rt):
        out = CliRunner().invoke(cli.main, ["status"]).output
    assert out.startswith("drift") and "removed 1 embed (iframe)" in out
    assert rt.dispatcher.deliver(eid, "wp").state == "delivered"  # never a resend
    assert len(wordpress.posts) == 1


@pytest.mark.parametrize("kind", ["wordpress", "devto", "ghost", "hashnode"])
def test_kept_copies_are_verified(make_runtime, wordpress, devto, ghost, hashnode, kind) -> None:
    from .fakes.ghost import ADMIN_KEY
    from .fakes.hashnode import PUBLICATION
    from .fakes.hashnode import TOKEN as HASHNODE_TOKEN

    targets = {"wordpress": wp_target(wordpress),
               "devto": {"name": "wp", "kind": "devto", "api_key": API_KEY,
                         "base_url": devto.url},
               "ghost": {"name": "wp", "kind": "ghost", "admin_url": ghost.url,
                         "admin_key": ADMIN_KEY},
               "hashnode": {"name": "wp", "kind": "hashnode", "token": HASHNODE_TOKEN,
                            "publication_id": PUBLICATION, "base_url": hashnode.url}}
    rt, _ = make_runtime(targets=[targets[kind]])
    eid = new_entry(rt)
    assert rt.dispatcher.deliver(eid, "wp").state == "delivered"
    (item,) = rt.deliveries()
    assert item["verified"] is True and item["drift"] == ""


def test_copies_carry_the_originals_date(make_runtime, wordpress, ghost) -> None:
    from .fakes.ghost import ADMIN_KEY

    published = time.mktime((2025, 11, 3, 8, 30, 0, 0, 0, 0)) - time.timezone
    rt, _ = make_runtime(targets=[wp_target(wordpress), {
        "name": "g", "kind": "ghost", "admin_url": ghost.url, "admin_key": ADMIN_KEY}])
    eid = new_entry(rt, published=published)
    assert drive(rt, eid, "wp").state == "delivered"
    assert drive(rt, eid, "g").state == "delivered"
    assert wordpress.posts[0]["date_gmt"] == "2025-11-03T08:30:00"
    assert ghost.posts[0]["published_at"] == "2025-11-03T08:30:00.000Z"


def test_a_permission_the_account_lacks_is_not_a_broken_target(make_runtime, wordpress) -> None:
    rt, _ = make_runtime(targets=[wp_target(wordpress)])
    eid = new_entry(rt)
    wordpress.faults.append(wp_error(403, "rest_cannot_publish", "Sorry, you are not allowed to "
                                     "publish posts as this user."))
    out = rt.dispatcher.deliver(eid, "wp")
    assert out.state == "dead"  # the credentials work: no point waiting for them to be fixed
    d = rt.ledger.get(eid, "wp")
    assert "not allowed to publish" in d.last_error and "account lacks" in d.last_error
    assert not rt.redis.exists(rt.keys.target("wp"))


def test_new_credentials_revive_a_broken_target_within_a_tick(make_runtime, wordpress,
                                                              redis_url, prefix) -> None:
    from syndicate.runtime import Runtime

    from .conftest import ListQueue, make_config

    rt, _ = make_runtime(targets=[wp_target(wordpress, app_password="wrong wrong wrong")])
    ids = [new_entry(rt, n) for n in (1, 2, 3)]
    rt.dispatcher.deliver(ids[0], "wp")
    assert "credentials rejected by WordPress" in rt.ledger.get(ids[0], "wp").last_error
    for eid in ids[1:]:
        assert rt.dispatcher.deliver(eid, "wp").state == "waiting"
    fixed = Runtime.open(make_config(redis_url, prefix, targets=[wp_target(wordpress)]),
                         queue=ListQueue(), r=rt.redis)
    fixed.tick()
    for eid in ids:
        assert fixed.ledger.get(eid, "wp").next_at <= time.time()
        assert fixed.dispatcher.deliver(eid, "wp").state == "delivered"
    fixed.dispatcher.close()


def test_stand_ins_check_requests_against_the_published_descriptions(devto, buttondown,
                                                                       hashnode, ghost) -> None:
    from .fakes.spec import available

    if not available():
        pytest.skip("the API descriptions (shared/specs) are not beside this checkout")
    # What an adapter that drifted from each API would send:
    requests.post(devto.url + "/api/articles", headers={"api-key": API_KEY},
                  json={"article": {"title": "T", "tags": ["a", "b"]}}, timeout=60)
    requests.post(buttondown.url + "/v1/emails", json={"subject": 1},
                  headers={"Authorization": "Token buttondown-key"}, timeout=60)
    requests.post(hashnode.url, json={"query": "mutation { publishPost(input: {title: 1}) "
                                               "{ post { id } } }"}, timeout=60)
    requests.post(ghost.url + "/ghost/api/admin/posts/", json={"posts": [{"title": "x" * 2001}]},
                  timeout=60)
    for server, words in ((devto, "['a', 'b'] is not of type"), (buttondown, "1 is not of type"),
                          (hashnode, "publicationId"), (ghost, "title")):
        assert server.spec_errors and words in json.dumps(server.spec_errors), server
        server.spec_errors.clear()  # seen: the fixture's own check passes


def test_faults_are_not_spec_errors(devto) -> None:
    # A scripted fault answers without the platform's logic, but the request is still checked.
    devto.faults.append(Reply(500, {"error": "oops"}))
    assert devto.spec_errors == []
