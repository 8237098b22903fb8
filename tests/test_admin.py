"""The status page and its actions: login, CSRF, filters, retry, approve, discard, resolve."""

from __future__ import annotations

import re

import pytest

from syndicate.web import create_app

from .fakes.http import Reply
from .helpers import new_entry
from .test_dispatcher import devto_target
from .test_flood import posts

PASSWORD = "correct horse battery"
TOKEN = "tok-0123456789abcdef"


@pytest.fixture
def site(make_runtime, feed_server, devto):
    url = feed_server.put("/feed", posts(0))
    rt, q = make_runtime(sources=[{"name": "blogger", "url": url, "flood_limit": 2}],
                         targets=[devto_target(devto, max_attempts=1)],
                         admin={"password": PASSWORD, "token": TOKEN})
    rt.poll("blogger")
    return rt, q, create_app(rt).test_client()


def login(client) -> str:
    client.post("/login", data={"password": PASSWORD})
    page = client.get("/").get_data(as_text=True)
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_page_needs_a_login(site) -> None:
    rt, _, client = site
    assert client.get("/").status_code == 302
    assert client.get("/api/deliveries").status_code == 401
    assert client.get("/feed.atom").status_code == 200  # the feeds stay public
    assert client.get("/healthz").status_code == 200
    assert client.post("/login", data={"password": "nope"}).status_code == 200
    assert client.get("/").status_code == 302
    login(client)
    assert client.get("/").status_code == 200
    assert client.get("/api/deliveries").status_code == 200
    anon = create_app(rt).test_client()
    assert anon.get("/api/deliveries", headers={"Authorization": f"Bearer {TOKEN}"}
                    ).status_code == 200


def test_actions_need_the_csrf_token(site, devto) -> None:
    rt, q, client = site
    eid = new_entry(rt)
    devto.faults.append(Reply(422, {"error": "Title is too short", "status": 422}))
    assert rt.dispatcher.deliver(eid, "devto").state == "dead"
    login(client)
    assert client.post("/actions/retry", data={"entry": eid, "target": "devto"}).status_code == 400
    assert rt.ledger.get(eid, "devto").state == "dead"


def test_retry_approve_discard_resolve(site, feed_server, devto) -> None:
    rt, q, client = site
    eid = new_entry(rt)
    devto.faults.append(Reply(422, {"error": "Title is too short", "status": 422}))
    rt.dispatcher.deliver(eid, "devto")
    csrf = login(client)
    page = client.get("/").get_data(as_text=True)
    assert "Title is too short" in page and 'data-state="dead"' in page
    client.post("/actions/retry", data={"csrf": csrf, "entry": eid, "target": "devto"})
    assert rt.ledger.get(eid, "devto").state == "pending" and (eid, "devto") in q.deliveries
    # A flood: held, shown, approved one by one or by source.
    feed_server.put("/feed", posts(3))
    held = rt.poll("blogger").held
    page = client.get("/?state=held").get_data(as_text=True)
    assert "Held by the flood breaker" in page and page.count('data-state="held"') == 3
    client.post("/actions/discard", data={"csrf": csrf, "entry": held[0]})
    client.post("/actions/approve", data={"csrf": csrf, "entry": "blogger"})
    assert rt.store.held() == {} and (held[1], "devto") in q.deliveries
    assert (held[0], "devto") not in q.deliveries
    # An unknown delivery settled by hand.
    rt.ledger.create("e" * 16, "devto")
    rt.ledger.set_state("e" * 16, "devto", "unknown", allowed_from=("pending",))
    client.post("/actions/resolve", data={"csrf": csrf, "entry": "e" * 16, "target": "devto",
                                          "url": "https://dev.example/x"})
    assert rt.ledger.get("e" * 16, "devto").remote_url == "https://dev.example/x"


def test_filters(site, devto) -> None:
    rt, _, client = site
    a, b = new_entry(rt, 1), new_entry(rt, 2)
    rt.dispatcher.deliver(a, "devto")
    login(client)
    delivered = client.get("/?state=delivered").get_data(as_text=True)
    pending = client.get("/?state=pending").get_data(as_text=True)
    assert f'data-entry="{a}"' in delivered and f'data-entry="{b}"' not in delivered
    assert f'data-entry="{b}"' in pending and f'data-entry="{a}"' not in pending


def test_off_without_admin_config(make_runtime) -> None:
    rt, _ = make_runtime()
    client = create_app(rt).test_client()
    resp = client.get("/")
    assert resp.status_code == 403 and "set [admin] password" in resp.get_data(as_text=True)
    assert client.get("/api/deliveries").status_code == 200  # open, as before [admin] existed


def test_login_throttle(site) -> None:
    _, _, client = site
    for _ in range(10):
        client.post("/login", data={"password": "wrong"})
    assert client.post("/login", data={"password": PASSWORD}).status_code == 429
