"""Stand-ins for the remote sites the benchmarks talk to: a farm of feeds, a target that
records what arrives. Both answer from an asyncio loop, the farm in a process of its own, so that
the figures measure syndicate's own cost and not the stand-ins'."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import multiprocessing
import random
import re
import time
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import requests

from bench.loopback import EventLoop, LoopbackServer, Reply, Request

PARAGRAPH = ("<p>Entropy is the price a living system pays to keep its own order, and a model in "
             "service pays it in electricity. " * 12) + "</p>"


@functools.lru_cache(maxsize=1)
def _words() -> list[str]:
    """The vocabulary of the sample posts: prose built from it, word by word, compresses as
    real feeds do (about 2-3:1), where one repeated sentence compresses 100:1."""
    fixtures = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
    text = " ".join(html.unescape((fixtures / name).read_text(encoding="utf-8"))
                    for name in ("blogger-atom.xml", "wordpress-rss.xml"))
    words = re.findall(r"[A-Za-z][a-z]{2,14}", re.sub(r"<[^>]+>", " ", text))
    return sorted(set(words)) or PARAGRAPH.split()


def prose(seed: int, size: int) -> str:
    """About `size` characters of paragraphs, the same for the same seed."""
    rng, words, out, length = random.Random(seed), _words(), [], 0
    while length < size:
        sentences = [" ".join(rng.choice(words) for _ in range(rng.randint(8, 20))).capitalize()
                     + "." for _ in range(rng.randint(3, 6))]
        out.append("<p>" + " ".join(sentences) + "</p>")
        length += len(out[-1])
    return "".join(out)


def atom(n: int, start: int = 0, blog: int = 0) -> bytes:
    """A Blogger-shaped Atom feed of `n` entries of about 5 KB of varied real prose each."""
    entries = []
    for i in range(start, start + n):
        when = datetime.fromtimestamp(1_700_000_000 + i * 3600, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.000Z")
        body = f"<h2>Post {i}</h2>" + prose(blog * 100_003 + i, 5000) + \
            f"<p>Number {i} of blog {blog}.</p>"
        body = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        entries.append(
            f"<entry><id>tag:blogger.com,1999:blog-{blog}.post-{i}</id><published>{when}"
            f"</published><updated>{when}</updated><title type='text'>Post {i} of {blog}</title>"
            f"<content type='html'>{body}</content><link rel='alternate' type='text/html' "
            f"href='https://b{blog}.example/{i}.html'/></entry>")
    return ("<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
            f"<id>tag:blogger.com,1999:blog-{blog}</id><title>Blog {blog}</title>"
            f"<link rel='alternate' href='https://b{blog}.example/'/>"
            + "".join(reversed(entries)) + "</feed>").encode()


class Farm:
    """Many feeds with ETag/304 (or, after `honour_etag(False)`, always 200), served by a
    process of its own, as the remote sites are: its CPU is not the poller's, and the poller's
    threads do not share a GIL with it."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        ready: Any = ctx.Queue()
        self.proc = ctx.Process(target=_farm_main, args=(ready,), daemon=True)
        self.proc.start()
        self.port = int(ready.get(timeout=30))
        self.base = f"http://127.0.0.1:{self.port}"
        self.control = requests.Session()

    def put(self, path: str, body: bytes) -> str:
        self.control.put(f"{self.base}/_feeds{path}", data=body, timeout=10).raise_for_status()
        return self.base + path

    def latency(self, seconds: float) -> None:
        """Answer every feed request after `seconds` (with 20% jitter either way), as a real
        blog on the other side of the world does; 0 answers at once."""
        self.control.put(f"{self.base}/_latency", data=str(seconds).encode(),
                         timeout=10).raise_for_status()

    def honour_etag(self, on: bool) -> None:
        """Answer conditional requests with 304 (True), or always 200 with the same bytes."""
        self.control.put(f"{self.base}/_honour", data=b"1" if on else b"0",
                         timeout=10).raise_for_status()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.join(5)


def _farm_main(ready: Any) -> None:
    feeds: dict[str, tuple[bytes, str]] = {}
    honour = [True]
    delay = [0.0]

    async def handle(req: Request) -> Reply:
        if req.path == "/_latency":
            delay[0] = float(req.body or b"0")
            return 204, [], b""
        if delay[0] and not req.path.startswith("/_"):
            await asyncio.sleep(delay[0] * random.uniform(0.8, 1.2))
        if req.path.startswith("/_feeds/"):
            etag = '"' + hashlib.sha1(req.body).hexdigest()[:16] + '"'
            feeds[req.path[len("/_feeds"):]] = (req.body, etag)
            return 204, [], b""
        if req.path == "/_honour":
            honour[0] = req.body == b"1"
            return 204, [], b""
        body, etag = feeds.get(req.path, (b"", ""))
        if honour[0] and req.headers.get("if-none-match") == etag:
            return 304, [("ETag", etag)], b""
        return 200, [("Content-Type", "application/atom+xml"), ("ETag", etag),
                     ("Last-Modified", formatdate(usegmt=True))], body

    server = LoopbackServer(handle)
    ready.put(server.port)
    server.thread.join()


class Recorder:
    """A target that answers after `latency` and notes when each entry first arrived."""

    def __init__(self, latency: float = 0.0, loop: EventLoop | None = None) -> None:
        self.latency = latency
        self.first: dict[str, float] = {}
        self.count = 0

        async def handle(req: Request) -> Reply:
            now = time.time()
            m = re.search(rb'"id":\s*"([0-9a-f]{16})"', req.body)
            if m:
                self.first.setdefault(m.group(1).decode(), now)
            self.count += 1
            if self.latency:
                await asyncio.sleep(self.latency)
            return 200, [], b""

        self.server = LoopbackServer(handle, loop=loop)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/in"

    def stop(self) -> None:
        self.server.stop()
