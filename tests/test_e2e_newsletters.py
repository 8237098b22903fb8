"""End to end: two new posts reach every newsletter target once each (one email per post, or
one digest listing both), through real web, worker and beat processes."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from .conftest import WEBHOOK_SECRET, fixture_bytes
from .fakes.buttondown import API_KEY as BD_KEY
from .fakes.buttondown import ButtondownServer
from .fakes.ghost import ADMIN_KEY, GhostServer
from .fakes.listmonk import TOKEN as LM_TOKEN
from .fakes.listmonk import USER as LM_USER
from .fakes.listmonk import ListmonkServer
from .fakes.mailchimp import API_KEY as MC_KEY
from .fakes.mailchimp import LIST_ID, MailchimpServer
from .service import Service, wait_for, write_config
from .test_poller import NEW_POST, with_new_post
from .test_web import signed

SECOND_POST = NEW_POST.replace("1111111111111111111", "2222222222222222222").replace(
    "A New Post", "Another New Post").replace("a-new-post", "another-new-post").replace(
    "Freshly written.", "Written right after the first one.")


def test_newsletters_once_each(tmp_path: Path, redis_url: str, prefix: str, feed_server,
                               smtp) -> None:
    bd, mc, lm, gh = (ButtondownServer().start(), MailchimpServer().start(),
                      ListmonkServer().start(), GhostServer().start())
    blogger = feed_server.put("/feeds/posts/default", fixture_bytes("blogger-atom.xml"))
    mail = {"kind": "smtp", "host": "127.0.0.1", "port": smtp.port, "security": "none",
            "from": "Sanjay Basu <posts@home.example>", "timeout": "5s"}
    cfg = write_config(tmp_path / "c.toml", webhook_secret=WEBHOOK_SECRET,
                       sources=[{"name": "blogger", "url": blogger, "poll_interval": "1h"}],
                       targets=[
        {"name": "each", **mail, "to": ["each@home.example"]},
        {"name": "digest", **mail, "to": ["digest@home.example"], "mode": "digest",
         "schedule": "* * * * *"},
        {"name": "buttondown", "kind": "buttondown", "api_key": BD_KEY, "base_url": bd.url,
         "status": "send"},
        {"name": "mailchimp", "kind": "mailchimp", "api_key": MC_KEY, "list_id": LIST_ID,
         "from_name": "Sanjay", "reply_to": "posts@home.example", "base_url": mc.url + "/3.0"},
        {"name": "listmonk", "kind": "listmonk", "base_url": lm.url, "username": LM_USER,
         "token": LM_TOKEN, "list_ids": [1]},
        {"name": "ghostletter", "kind": "ghost_newsletter", "admin_url": gh.url,
         "admin_key": ADMIN_KEY, "newsletter": "weekly"},
    ])
    svc = Service(cfg, {"REDIS_URL": redis_url, "SYNDICATE_REDIS_PREFIX": prefix}, tmp_path)
    svc.start()
    try:
        wait_for(lambda: svc.cli("poll").stdout.count("0 new") == 1 and requests.get(
            svc.url + "/feed.json", timeout=5).json()["items"], what="the baseline")
        feed_server.put("/feeds/posts/default", with_new_post(
            with_new_post(fixture_bytes("blogger-atom.xml")), SECOND_POST))
        body, hdrs = signed({"source": "blogger"})
        assert requests.post(svc.url + "/hooks/publish", data=body, headers=hdrs,
                             timeout=5).status_code == 202

        def to(addr: str) -> list[object]:
            return [m for m in smtp.messages if m["To"] == addr]

        def done() -> bool:
            return (len(to("each@home.example")) == 2 and len(bd.sent) == 2 and mc.sends == 2
                    and lm.starts == 2 and len(gh.newsletter_sends) == 2)

        wait_for(done, timeout=60, interval=0.2, what="one email per post per target")
        wait_for(lambda: to("digest@home.example"), timeout=75, interval=0.5,
                 what="the digest at the next minute")
        svc.stop_one("worker")
        svc.start_worker()
        assert svc.cli("poll").returncode == 0
        time.sleep(4)
    finally:
        svc.stop()
        for s in (bd, mc, lm, gh):
            s.stop()
    assert len(to("each@home.example")) == 2
    (digest,) = to("digest@home.example")
    html = digest.get_body(("html",)).get_content()
    assert "A New Post" in html and "Another New Post" in html
    assert len(bd.sent) == 2 and len(bd.posts) == 2
    assert mc.sends == 2 and len(mc.posts) == 2
    assert lm.starts == 2 and len(lm.posts) == 2
    assert len(gh.newsletter_sends) == 2 and len(gh.posts) == 2
