"""End to end with real processes: web, a Celery worker and beat on a real Redis, the fixture
feeds on a loopback server, a real SMTP server and a loopback dev.to."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import feedparser
import pytest
import requests

from .conftest import WEBHOOK_SECRET, fixture_bytes
from .fakes.devto import API_KEY
from .service import Service, wait_for, write_config
from .test_poller import with_new_post
from .test_web import signed

NEW_LINK = "https://synthetic-mind.blogspot.example/2025/12/a-new-post.html"


@pytest.fixture
def service(tmp_path: Path, redis_url: str, prefix: str, feed_server, devto, smtp):
    blogger = feed_server.put("/feeds/posts/default", fixture_bytes("blogger-atom.xml"))
    wordpress = feed_server.put("/category/uncategorized/feed/", fixture_bytes("wordpress-rss.xml"))
    cfg = write_config(
        tmp_path / "syndicate.toml",
        sources=[{"name": "blogger", "url": blogger, "poll_interval": "1h"},
                 {"name": "wordpress", "url": wordpress, "poll_interval": "1h"}],
        targets=[
            {"name": "newsletter", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
             "security": "none", "from": "Sanjay Basu <posts@home.example>",
             "to": ["reader@home.example"], "timeout": "5s"},
            {"name": "devto", "kind": "devto", "api_key": "${DEVTO_API_KEY}",
             "base_url": devto.url, "published": True, "timeout": "5s"},
        ],
        webhook_secret=WEBHOOK_SECRET,
    )
    svc = Service(cfg, {"REDIS_URL": redis_url, "SYNDICATE_REDIS_PREFIX": prefix,
                        "DEVTO_API_KEY": API_KEY}, tmp_path)
    try:
        yield svc.start()
    finally:
        svc.stop()


def feed_titles(url: str) -> list[str]:
    resp = requests.get(url, timeout=5)
    parsed = feedparser.parse(resp.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return [e.title for e in parsed.entries]


def test_new_post_reaches_every_target_once(service: Service, feed_server, devto, smtp) -> None:
    # The scheduler's first tick polls both sources: a baseline, nothing is sent.
    wait_for(lambda: len(feed_titles(service.url + "/feed.atom")) == 9, what="9 entries")
    assert len(feed_titles(service.url + "/feed.xml")) == 9
    assert requests.get(service.url + "/api/deliveries", timeout=5).json() == []

    feed_server.put("/feeds/posts/default", with_new_post(fixture_bytes("blogger-atom.xml")))
    body, hdrs = signed({"source": "blogger"}, msg_id="msg_e2e_1")
    sent_at = time.monotonic()
    resp = requests.post(service.url + "/hooks/publish", data=body, headers=hdrs, timeout=5)
    assert resp.status_code == 202
    wait_for(lambda: smtp.messages and devto.articles, timeout=30, interval=0.02,
             what="the email and the article")
    latency = time.monotonic() - sent_at
    print(f"\nwebhook -> email and article: {latency * 1000:.0f} ms")

    def all_delivered() -> list[dict[str, object]]:
        items = requests.get(service.url + "/api/deliveries", timeout=5).json()
        return items if len(items) == 2 and all(d["state"] == "delivered" for d in items) else []

    items = wait_for(all_delivered, what="both deliveries recorded")
    assert {d["target"] for d in items} == {"newsletter", "devto"}
    assert all(d["link"] == NEW_LINK and d["title"] == "A New Post" for d in items)
    assert devto.articles[0]["canonical_url"] == NEW_LINK
    assert smtp.messages[0]["Subject"] == "A New Post"
    # The merged feed shows it within a second (each web process reads the version once a second).
    wait_for(lambda: feed_titles(service.url + "/feed.atom")[0] == "A New Post", timeout=5,
             what="the new post at the top of the feed")

    # Everything that could cause a second copy: the same webhook again, a new webhook, a manual
    # poll, a restarted worker, the scheduler's reconciler running meanwhile.
    assert requests.post(service.url + "/hooks/publish", data=body, headers=hdrs,
                         timeout=5).json()["status"] == "duplicate"
    body2, hdrs2 = signed({"url": NEW_LINK})
    assert requests.post(service.url + "/hooks/publish", data=body2, headers=hdrs2,
                         timeout=5).status_code == 202
    polled = service.cli("poll", "blogger")
    assert polled.returncode == 0, polled.stderr
    assert "0 new" in polled.stdout
    assert service.stop_one("worker") == 0  # a warm shutdown
    service.start_worker()
    wait_for(lambda: requests.get(service.url + "/healthz", timeout=2).json()["workers"],
             what="the restarted worker")
    time.sleep(4)  # several scheduler ticks
    assert len(smtp.messages) == 1
    assert len(devto.articles) == 1 and devto.posts_seen == 1
    status = service.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    assert sorted(d["state"] for d in json.loads(status.stdout)) == ["delivered", "delivered"]
    # The worker sized its lanes for its 4 threads: one other target each.
    assert "up to 4 lane threads" in (service.logs / "worker.log").read_text()
    # The containers' health checks: this host's worker and scheduler checked in.
    for part in ("worker", "beat"):
        health = service.cli("healthcheck", part)
        assert health.returncode == 0, health.stderr


def test_target_500_then_201_through_the_worker(service: Service, feed_server, devto, smtp) -> None:
    from .fakes.http import Reply

    wait_for(lambda: len(feed_titles(service.url + "/feed.atom")) == 9, what="baseline")
    devto.faults.append(Reply(500, {"error": "Internal Server Error", "status": 500}))
    feed_server.put("/feeds/posts/default", with_new_post(fixture_bytes("blogger-atom.xml")))
    body, hdrs = signed({"source": "blogger"})
    requests.post(service.url + "/hooks/publish", data=body, headers=hdrs, timeout=5)

    def devto_record() -> dict[str, object] | None:
        for d in requests.get(service.url + "/api/deliveries", timeout=5).json():
            if d["target"] == "devto" and d["state"] == "delivered":
                return d
        return None

    record = wait_for(devto_record, timeout=40, what="the retried delivery")
    assert record["attempts"] == 2
    assert len(devto.articles) == 1 and len(smtp.messages) == 1


def test_up_with_embedded_redis(tmp_path: Path, feed_server) -> None:
    import os
    import subprocess
    import sys

    from .fakes.smtp import free_port

    url = feed_server.put("/feed/", fixture_bytes("wordpress-rss.xml"))
    cfg = write_config(tmp_path / "c.toml", sources=[{"name": "wordpress", "url": url}],
                       targets=[], webhook_secret=WEBHOOK_SECRET)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SYNDICATE_CONFIG")}
    env["SYNDICATE_REDIS_PREFIX"] = "up-test"
    data = tmp_path / "data"
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "syndicate", "up", "--config", str(cfg), "--data", str(data),
             "--port", str(port)], env=env, stdout=open(tmp_path / "up.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True)

    proc = start()
    try:
        wait_for(lambda: requests.get(base + "/healthz", timeout=2).json().get("workers"),
                 timeout=60, what="up to be healthy")
        wait_for(lambda: len(feed_titles(base + "/feed.xml")) == 6, what="6 entries")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert (data / "redis" / "appendonly.aof").exists() or any(
            (data / "redis").glob("appendonly*"))
        # A restart forgets nothing: the entries are there before any poll could run.
        feed_server.feeds.clear()
        proc = start()
        wait_for(lambda: requests.get(base + "/healthz", timeout=2).status_code == 200,
                 timeout=60, what="restart")
        assert len(feed_titles(base + "/feed.xml")) == 6
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    assert "stopped" in (tmp_path / "up.log").read_text()


def test_healthcheck_answers_from_the_heartbeats(tmp_path: Path, redis_url: str,
                                                 prefix: str) -> None:
    """`syndicate healthcheck PART` fails, naming the part, until one on this host checks in."""
    import subprocess
    import sys

    import redis as redis_mod

    from syndicate import heartbeat
    from syndicate.keys import Keys

    cfg = tmp_path / "syndicate.toml"
    cfg.write_text('[site]\ntitle = "T"\nurl = "https://example.org/"\n\n'
                   f'[redis]\nurl = "{redis_url}"\nprefix = "{prefix}"\n')

    def check(part: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syndicate", "healthcheck", part,
                               "--config", str(cfg)], capture_output=True, text=True,
                              timeout=60)

    down = check("worker")
    assert down.returncode == 1 and "no worker on this host checked in" in down.stderr
    r = redis_mod.Redis.from_url(redis_url)
    try:
        heartbeat.check_in(r, Keys(prefix), "worker")
    finally:
        r.close()
    assert check("worker").returncode == 0
    assert check("beat").returncode == 1  # a worker's check-in says nothing of the scheduler
