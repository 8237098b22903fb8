"""`python -m bench [--quick] [--write]`: syndicate's speed and memory against baselines measured
in the same run, on loopback servers. Prints a table; `--write` also writes bench/RESULTS.md.

Every figure is a ratio or a count measured here, now, on this machine, never an absolute time
asserted in the test suite (`tests/test_bench.py` only runs `--quick` to keep this working).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import psutil
import redis
import requests

from bench.faults.harness import HOOK_SECRET as INBOUND_SECRET
from bench.faults.harness import Cluster, free_port, workdir
from bench.loopback import EventLoop
from bench.sites import Farm, Recorder, atom, prose
from syndicate import config as config_mod
from syndicate import feed as feed_mod
from syndicate import signing
from syndicate.entry import Entry
from syndicate.metrics import Metrics
from syndicate.queue import MemoryQueue
from syndicate.runtime import Runtime
from syndicate.scripts import ScriptClient

ROOT = Path(__file__).resolve().parent

def parses_of(rt: Runtime) -> float:
    """Feeds parsed so far (the poller's `parses` counter)."""
    return Metrics(rt.redis, rt.keys).total("parses")


HOOK_SECRET = "whsec_YmVuY2htYXJrLXdlYmhvb2stc2VjcmV0LTMyYnl0ZXM="  # the benchmark targets' signing secret



@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None
    goal: str
    met: bool
    note: str = ""
    percent: bool = False  # show the ratio as a percentage

    @property
    def ratio(self) -> str:
        if not self.baseline:
            return "—"
        r = self.value / self.baseline
        return f"{100 * r:.1f}%" if self.percent else f"{r:.1f}x"


ListQueue = MemoryQueue


def _config(redis_url: str, prefix: str, sources: list[dict[str, Any]],
            targets: list[dict[str, Any]]) -> config_mod.Config:
    return config_mod.parse({"site": {"title": "Bench", "url": "http://127.0.0.1:8080/"},
                             "sources": sources, "targets": targets,
                             "redis": {"url": redis_url, "prefix": prefix},
                             "fetch": {"allow_private": True}}, env={})


def cleanup(redis_url: str, prefix: str) -> None:
    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(f"{prefix}:*", count=1000):
        r.delete(key)


POLL_THREADS = 2


def polling(redis_url: str, sources: int, entries: int) -> list[Figure]:
    farm = Farm()
    prefix = f"bench-poll-{os.getpid()}"
    body = {i: atom(entries, blog=i) for i in range(sources)}
    urls = [farm.put(f"/feed/{i}", body[i]) for i in range(sources)]
    cfg = _config(redis_url, prefix, [{"name": f"s{i}", "url": u, "flood_limit": 1000}
                                      for i, u in enumerate(urls)],
                  [{"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/",
                    "secret": HOOK_SECRET}])
    q = ListQueue()
    rt = Runtime.open(cfg, queue=q)
    names = [s.name for s in cfg.sources]
    out: list[Figure] = []
    try:
        with ThreadPoolExecutor(POLL_THREADS) as pool:
            list(pool.map(rt.poll, names))  # first poll: baseline, every feed parsed
            # 1. unchanged sources answering 304; each figure is the median of three rounds
            rates = []
            for _ in range(3):
                started = time.perf_counter()
                results = list(pool.map(rt.poll, names))
                rates.append(sources / (time.perf_counter() - started))
                assert all(r.status == "not-modified" for r in results), results[:3]
            rate = statistics.median(rates)
            # baseline: fetch and parse every feed, as a plain feedparser loop would
            bases = []
            for round_ in range(3):
                sample = names[round_::max(3, sources // 20)][: max(5, sources // 50)]
                started = time.perf_counter()
                for name in sample:
                    feedparser.parse(requests.get(cfg.source(name).url, timeout=30).content)  # type: ignore[union-attr]
                bases.append(len(sample) / (time.perf_counter() - started))
            base = statistics.median(bases)
            out.append(Figure(f"poll {sources} unchanged sources (304)", rate, "polls/s", base,
                              ">= 200 polls/s and >= 50x", rate >= 200 and rate / base >= 50,
                              f"{entries}-entry feeds, {POLL_THREADS} threads, median of 3"))
            # 2. a server that ignores ETag: same bytes, no parse
            farm.honour_etag(False)
            parses = parses_of(rt)
            list(pool.map(rt.poll, names))
            extra = parses_of(rt) - parses
            out.append(Figure("poll when the server ignores ETag: feedparser calls", extra,
                              "calls", None, "0", extra == 0, f"{sources} polls, all 200"))
            farm.honour_etag(True)
            # 3. 1% of the sources gain an entry
            changed = names[: max(1, sources // 100)]
            for name in changed:
                i = int(name[1:])
                farm.put(f"/feed/{i}", atom(entries + 1, blog=i))
            parses, queued = parses_of(rt), len(q.deliveries)
            list(pool.map(rt.poll, names))
            extra, new = parses_of(rt) - parses, len(q.deliveries) - queued
            out.append(Figure("poll with 1% changed: feeds parsed / new deliveries", extra,
                              "parsed", None, f"{len(changed)} / {len(changed)}",
                              extra == len(changed) and new == len(changed),
                              f"{new} new entries queued for delivery"))
    finally:
        farm.stop()
        cleanup(redis_url, prefix)
    return out


def peer_figures(redis_url: str, quick: bool) -> list[Figure]:
    """syndicate against rss2email on the same farm and SMTP sink (bench/peer.py)."""
    from bench import peer

    if peer.r2e() is None:
        print("peer: rss2email is not installed (pip install -e '.[bench]'): skipped")
        return []
    out: list[Figure] = []
    feeds, entries = (4, 3) if quick else (100, 20)
    first = peer.first_run(redis_url, feeds, entries, rounds=1 if quick else 3)
    (low, high), (cpu_low, cpu_high) = first["spread"], first["cpu_spread"]
    out.append(Figure(f"first run, {first['total']:,} entries -> SMTP, syndicate / rss2email",
                      first["rate"], "entries/s", first["r2e_rate"],
                      ">= 2x, <= 5 ms worker CPU per email",
                      first["rate"] >= 2 * first["r2e_rate"] and first["cpu_ms"] <= 5,
                      f"worker CPU {first['cpu_ms']:.1f} ms per email ({cpu_low:.1f}-"
                      f"{cpu_high:.1f}; rss2email {first['r2e_cpu_ms']:.1f}); syndicate "
                      f"{low:,.0f}-{high:,.0f}/s over the rounds; sent {first['sent'][1]} / "
                      f"{first['sent'][0]} (the fewest of a round); "
                      f"{peer.FIRST_RUN_WORKERS} worker processes x 8 threads, each feed's new "
                      "emails ten to a task (the smtp target's `per_task`)"))
    # At 100 ms rss2email takes about 0.1 s a feed, one after another: each of its rounds over
    # 1,000 feeds is nearly two minutes, so the ETag-ignored rounds run at 0 ms only.
    for latency, n, goal in ((0.1, 20 if quick else 1000, 20.0),
                             (0.0, 20 if quick else 1000, 2.0)):
        got = peer.unchanged(redis_url, n, 2, latency, rounds=1 if quick else 3,
                             ignored=latency == 0.0)
        ours, theirs, low, high = got["304"]
        out.append(Figure(f"{n} unchanged feeds (304) at {latency * 1000:.0f} ms, syndicate / "
                          "rss2email", ours, "polls/s", theirs, f">= {goal:g}x",
                          ours >= goal * theirs,
                          f"rss2email {theirs:,.1f}/s; syndicate {low:,.0f}-{high:,.0f}/s over "
                          f"the rounds, {peer.PEER_THREADS} threads"))
        if latency == 0.0:
            ours, theirs, low, high = got["ignored"]
            out.append(Figure(f"{n} feeds, server ignores ETag, syndicate / rss2email", ours,
                              "polls/s", theirs, "(no goal)", True,
                              f"rss2email {theirs:,.1f}/s parses them all again"))
    return out


def _tree_memory(pid: int) -> tuple[int, int]:
    """RSS and PSS of a process and its children, summed. A forked server's processes share
    most of their pages: PSS counts each shared page once, which summed RSS does not."""
    try:
        p = psutil.Process(pid)
        procs = [p, *p.children(recursive=True)]
        rss = sum(c.memory_info().rss for c in procs)
        try:
            pss = sum(c.memory_full_info().pss for c in procs)
        except (AttributeError, psutil.AccessDenied):
            pss = rss  # no PSS on this platform
        return rss, pss
    except psutil.NoSuchProcess:
        return 0, 0


def _peak_rss(pid: int) -> int:
    """The kernel's record of a process's largest RSS (Linux's VmHWM); 0 where there is none."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def webhook_latency(redis_url: str, runs: int, entries: int) -> list[Figure]:
    farm = Farm()
    target = Recorder()
    folder = workdir()
    feed_entries = entries
    url = farm.put("/feed", atom(feed_entries))
    cluster = Cluster(redis_url, folder, [{"name": "hook", "kind": "webhook",
                                           "url": target.url, "secret": HOOK_SECRET}],
                      sources=[{"name": "blog", "url": url, "poll_interval": "1h"}],
                      prefix="bench-hook")
    # The cluster's `[webhook] secret`: a publish signed with anything else is refused.
    secret = config_mod.webhook_secret(INBOUND_SECRET, "webhook.secret")
    assert secret is not None
    port = free_port()
    latencies: list[float] = []
    try:
        cluster.spawn("web", "web", "--port", str(port))
        cluster.start_worker(concurrency=4)
        rt = cluster.runtime()
        rt.poll("blog")  # the baseline
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()["workers"]:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.2)
        for n in range(runs):
            farm.put("/feed", atom(feed_entries, start=n + 1))  # one new post, newest first
            body = b'{"source": "blog"}'
            hdrs = signing.headers(secret, f"msg_bench_{n}", body)
            before = set(target.first)
            sent = time.time()
            answer = requests.post(f"http://127.0.0.1:{port}/hooks/publish", data=body,
                                   headers=hdrs, timeout=10)
            if not answer.ok:  # a refused hook would only show as a latency of infinity
                raise RuntimeError(f"the publish webhook answered {answer.status_code}: "
                                   f"{answer.text[:200]}")
            end = time.monotonic() + 10
            while time.monotonic() < end and len(target.first) == len(before):
                time.sleep(0.001)
            new = set(target.first) - before
            if new:
                latencies.append((target.first[new.pop()] - sent) * 1000)
    finally:
        cluster.stop()
        farm.stop()
        target.stop()
        shutil.rmtree(folder, ignore_errors=True)
    lat = sorted(latencies)
    p50 = statistics.median(lat) if lat else float("inf")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("inf")
    return [Figure(f"webhook -> first target request, p50 ({len(lat)} runs)", p50, "ms", None,
                   "<= 100 ms", p50 <= 100, f"{feed_entries}-entry feed, one new post"),
            Figure("webhook -> first target request, p99", p99, "ms", None, "<= 300 ms",
                   p99 <= 300)]


def fan_out(redis_url: str, entries: int, workers: int, concurrency: int,
            rounds: int = 3) -> list[Figure]:
    # One loop serves the three targets: the stand-ins' CPU is not syndicate's, and three loop
    # threads would take three turns at the bench process's GIL for every round of answers.
    loop = EventLoop()
    targets = [Recorder(latency=0.05, loop=loop) for _ in range(3)]
    folder = workdir()
    cluster = Cluster(redis_url, folder, [
        {"name": f"t{i}", "kind": "webhook", "url": t.url, "secret": HOOK_SECRET,
         "timeout": "10s"} for i, t in enumerate(targets)], prefix="bench-fan")
    r = redis.Redis.from_url(redis_url)
    peak = {"worker": (0, 0), "web": (0, 0)}  # (RSS, PSS), the largest seen
    stop = threading.Event()

    def sample() -> None:
        # Once a second: reading a process's PSS walks its page tables, CPU that this process
        # would otherwise spend during the measured rounds. A worker's peak RSS is also read from
        # the kernel's own high-water mark at the end, which no sampling interval can miss.
        while not stop.is_set():
            for name, proc in list(cluster.procs.items()):
                kind = "web" if name == "web" else "worker"  # each worker on its own
                rss, pss = _tree_memory(proc.pid)
                peak[kind] = (max(peak[kind][0], rss), max(peak[kind][1], pss))
            stop.wait(1.0)

    try:
        port = free_port()
        cluster.spawn("web", "web", "--port", str(port))
        for w in range(workers):
            cluster.spawn(f"worker{w}", "worker", "--concurrency", str(concurrency),
                          "--hostname", f"w{w}@%h")
        rt = cluster.runtime()
        time.sleep(4)
        threading.Thread(target=sample, daemon=True).start()
        app = rt.queue.app  # type: ignore[attr-defined]
        n_tasks = entries * 3
        qkey = cluster.prefix + ":celery:syndicate"
        noop_rates, rates, noop_cmds_l, totals = [], [], [], []
        # Where the CPU goes, per task: the worker processes, the Redis server (when it runs
        # here) and this process (the publishing, and the three targets' server).
        groups = {"workers": [psutil.Process(p.pid) for n, p in cluster.procs.items()
                              if n.startswith("worker")],
                  "redis": _redis_process(r), "bench": [psutil.Process()]}
        noop_cpu: list[dict[str, float]] = []
        real_cpu: list[dict[str, float]] = []
        # Rounds alternate the baseline and the real thing, so that a slow spell of the
        # machine weighs on both; each figure is the median of the rounds.
        for round_ in range(rounds):
            # Baseline: Celery's own cost, as many no-op tasks through the same workers.
            before = int(r.info("stats")["total_commands_processed"])
            cpu0 = _cpu(groups)
            started = time.perf_counter()
            for _ in range(n_tasks):
                app.send_task("syndicate.noop", queue="syndicate")
            while r.llen(qkey) or len(r.hkeys(cluster.prefix + ":celery:unacked")):
                time.sleep(0.05)
            noop_rates.append(n_tasks / (time.perf_counter() - started))
            noop_cpu.append(_per_task(cpu0, _cpu(groups), n_tasks))
            noop_cmds_l.append((int(r.info("stats")["total_commands_processed"]) - before)
                               / n_tasks)
            # The real thing: entries x 3 targets answering after 50 ms.
            before = int(r.info("stats")["total_commands_processed"])
            started = time.perf_counter()
            ids = []
            for i in range(entries):
                e = Entry(source="bench", guid=f"urn:bench:{round_}:{i}",
                          link=f"https://bench.example/{round_}/{i}", title=f"Bench {i}",
                          content_html=f"<p>{i}</p>", published=time.time())
                eid, _ = rt.store.upsert(e)
                ids.append(eid)
            arrived = sum(t.count for t in targets)
            cpu0 = _cpu(groups)
            fan_started = time.perf_counter()
            for eid in ids:
                rt.dispatcher.fan_out(eid)
            # Watch the targets, not Redis: the measurement must not add commands of its own.
            while (sum(t.count for t in targets) - arrived < n_tasks
                   and time.perf_counter() - started < 600):
                time.sleep(0.05)
            rates.append(n_tasks / (time.perf_counter() - fan_started))
            real_cpu.append(_per_task(cpu0, _cpu(groups), n_tasks))
            time.sleep(1.0)  # the last finishes are recorded
            totals.append((int(r.info("stats")["total_commands_processed"]) - before) / n_tasks)
        noop_rate, rate = statistics.median(noop_rates), statistics.median(rates)
        noop_cmds, total = statistics.median(noop_cmds_l), statistics.median(totals)
        for name, proc in cluster.procs.items():
            if name.startswith("worker"):
                peak["worker"] = (max(peak["worker"][0], _peak_rss(proc.pid)), peak["worker"][1])
    finally:
        stop.set()
        cluster.stop()
        for t in targets:
            t.stop()
        loop.stop()
        shutil.rmtree(folder, ignore_errors=True)
    mib = 1024 * 1024
    cpu_real = {k: statistics.median(c[k] for c in real_cpu) for k in real_cpu[0]}
    cpu_noop = {k: statistics.median(c[k] for c in noop_cpu) for k in noop_cpu[0]}
    return [
        Figure(f"fan-out: {entries} entries x 3 targets (50 ms each)", rate, "deliveries/s",
               noop_rate, ">= 60% of no-op tasks/s", rate / noop_rate >= 0.6,
               f"{workers} worker processes x {concurrency} threads; median of {rounds} "
               "alternating rounds; an entry's three deliveries share one task, made at once "
               "(`deliver_run`)", percent=True),
        Figure("CPU per delivery, all processes", sum(cpu_real.values()), "ms",
               sum(cpu_noop.values()), "report", True,
               ", ".join(f"{k} {cpu_real[k]:.2f} (no-op {cpu_noop[k]:.2f})" for k in cpu_real)
               + "; the baseline is a no-op task's. With the CPU the limit, tasks/s is about "
               "cores x 1,000 ms over the total"),
        Figure("Redis commands per delivery, as INFO counts them", total, "commands",
               noop_cmds, "report", True,
               f"Celery's included (the baseline is a no-op task's: {noop_cmds:.1f}); an "
               "entry's three deliveries share one task; counts the commands inside Lua "
               "scripts and each entry's upsert and fan-out"),
        Figure("peak RSS per worker process during fan-out", peak["worker"][0] / mib, "MiB",
               None, "<= 150 MiB", peak["worker"][0] / mib <= 150,
               "the largest of the worker processes"),
        Figure("peak memory of the web server during fan-out", peak["web"][1] / mib, "MiB",
               None, "<= 150 MiB", peak["web"][1] / mib <= 150,
               f"PSS of granian's supervisor and worker process; their RSS summed: "
               f"{peak['web'][0] / mib:.0f} MiB"),
    ]


def _redis_process(r: redis.Redis) -> list[psutil.Process]:
    """The Redis server's process when it runs on this machine (its CPU is part of the cost).
    A server elsewhere reports a pid that may name some other process here: that one is not
    counted."""
    try:
        proc = psutil.Process(int(r.info("server")["process_id"]))
        return [proc] if "redis" in proc.name().lower() else []
    except (psutil.Error, KeyError, ValueError):
        return []


def _cpu(groups: dict[str, list[psutil.Process]]) -> dict[str, float]:
    out = {}
    for name, procs in groups.items():
        total = 0.0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        out[name] = total
    return out


def _per_task(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, float]:
    """Milliseconds of CPU per task, by process group."""
    return {k: 1000 * (after[k] - before[k]) / n for k in before}


# Worker shapes on 2 cores: processes x threads. The first is the one the main figures use:
# it measured best as a share of the no-op rate (2026-12-01: 4 x 32 52%, 2 x 64 40%,
# 1 x 128 37%).
SHAPES = ((4, 32), (2, 64), (1, 128))


def fan_out_shapes(redis_url: str, quick: bool) -> list[Figure]:
    if quick:
        return fan_out(redis_url, 10, 2, 8, 1)
    out: list[Figure] = []
    for n, (workers, threads) in enumerate(SHAPES):
        got = fan_out(redis_url, 1000, workers, threads, 3)
        if n == 0:
            out += got
        else:
            f = got[0]
            out.append(Figure(f"fan-out, worker shape {workers} x {threads}", f.value, f.unit,
                              f.baseline, "report", True, f.note, percent=True))
    return out


def startup(rounds: int) -> list[Figure]:
    """`syndicate up` as a newcomer runs it (embedded Redis, a fresh data folder, one source),
    from the command to the feed server seeing the first GET; the median of `rounds`."""
    from bench.loopback import LoopbackServer, Reply, Request

    body = atom(5)
    first: list[float] = []

    async def handle(req: Request) -> Reply:
        if not first:
            first.append(time.perf_counter())
        return 200, [("Content-Type", "application/atom+xml")], body

    server = LoopbackServer(handle)
    times = []
    try:
        for _ in range(rounds):
            folder = workdir()
            cfg = folder / "syndicate.toml"
            port = free_port()
            cfg.write_text(
                f'[site]\ntitle = "Bench"\nurl = "http://127.0.0.1:{port}/"\n\n'
                "[fetch]\nallow_private = true\n\n"
                f'[[sources]]\nname = "blog"\nurl = "http://127.0.0.1:{server.port}/feed"\n')
            env = {k: v for k, v in os.environ.items()
                   if k not in ("REDIS_URL", "SYNDICATE_CONFIG")}
            first.clear()
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "syndicate", "up", "--config", str(cfg), "--data",
                 str(folder / "data"), "--port", str(port)], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                while not first and time.perf_counter() - started < 60:
                    time.sleep(0.01)
                if first:
                    times.append(first[0] - started)
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        server.stop()
    took = statistics.median(times) if times else float("inf")
    return [Figure("`syndicate up` to first fetch", took, "s", None, "<= 1.5 s", took <= 1.5,
                   f"embedded Redis, a fresh data folder, one source; median of {len(times)}, "
                   f"{min(times, default=0):.2f}-{max(times, default=0):.2f} s")]


def round_trips(redis_url: str, deliveries: int) -> list[Figure]:
    """Round trips to Redis per delivery, counted in the client (a pipeline is one), for the
    attempt a worker makes: claim (with the entry), rate slot, on-wire mark, finish, metrics."""
    target = Recorder()
    prefix = f"bench-rtt-{os.getpid()}"
    cfg = _config(redis_url, prefix, [], [{"name": "hook", "kind": "webhook", "url": target.url,
                                           "secret": HOOK_SECRET}])
    rt = Runtime.open(cfg, queue=ListQueue())
    ids = []
    for i in range(deliveries):
        eid, _ = rt.store.upsert(Entry(source="b", guid=f"urn:rtt:{i}", title=f"T{i}",
                                       link=f"https://rtt.example/{i}", content_html="<p>x</p>"))
        rt.dispatcher.fan_out(eid)
        ids.append(eid)
    rt.dispatcher.deliver(ids[0], "hook")  # scripts loaded, adapter built
    counts = {"trips": 0}
    real_exec, real_pipe = redis.Redis.execute_command, redis.client.Pipeline.execute
    # A registered script goes on the thread's own connection, past execute_command.
    real_script = ScriptClient.evalsha_here

    def script_counted(self, *args, **kw):  # type: ignore[no-untyped-def]
        counts["trips"] += 1
        return real_script(self, *args, **kw)

    def exec_counted(self, *args, **kw):  # type: ignore[no-untyped-def]
        counts["trips"] += 1
        return real_exec(self, *args, **kw)

    def pipe_counted(self, *args, **kw):  # type: ignore[no-untyped-def]
        counts["trips"] += 1
        return real_pipe(self, *args, **kw)

    redis.Redis.execute_command = exec_counted  # type: ignore[method-assign]
    redis.client.Pipeline.execute = pipe_counted  # type: ignore[method-assign]
    ScriptClient.evalsha_here = script_counted  # type: ignore[method-assign]
    try:
        for eid in ids[1:]:
            rt.dispatcher.deliver(eid, "hook")
    finally:
        redis.Redis.execute_command = real_exec  # type: ignore[method-assign]
        redis.client.Pipeline.execute = real_pipe  # type: ignore[method-assign]
        ScriptClient.evalsha_here = real_script  # type: ignore[method-assign]
        target.stop()
        cleanup(redis_url, prefix)
    per = counts["trips"] / (len(ids) - 1)
    return [Figure("Redis round trips per delivery attempt (worker side)", per, "round trips",
                   None, "<= 6", per <= 6, "a webhook: claim (with the entry, the target's "
                   "health and cooldown), finish (with the metrics); a target without an "
                   "idempotency key adds the on-wire mark, one with rate limits a rate slot")]


def reader_feed(redis_url: str, seconds: int, size: int = 50) -> list[Figure]:
    prefix = f"bench-feed-{os.getpid()}-{size}"
    cfg = config_mod.parse({"site": {"title": "Bench", "url": "http://127.0.0.1:8080/",
                                     "feed_size": size},
                            "redis": {"url": redis_url, "prefix": prefix}}, env={})
    rt = Runtime.open(cfg, queue=ListQueue())
    for i in range(size):  # varied prose, about 5 KB a post: it gzips as real posts do
        rt.store.upsert(Entry(source="b", guid=f"urn:b:{i}", link=f"https://b.example/{i}",
                              title=f"Post {i}", content_html=prose(i, 5000),
                              published=1_700_000_000 + i))
    # Baseline: what rendering with feedgen on every request would allow.
    entries = rt.store.latest(size)
    started = time.perf_counter()
    n = 0
    while time.perf_counter() - started < 2:
        feed_mod.render(cfg.site, "atom", entries)
        n += 1
    base = n / (time.perf_counter() - started)
    wrk = shutil.which("wrk")
    folder = workdir()
    cfg_path = folder / "c.toml"
    cfg_path.write_text(f'[site]\nfeed_size = {size}\n[redis]\nurl = "{redis_url}"\n'
                        f'prefix = "{prefix}"\n')
    port = free_port()
    env = {**os.environ, "SYNDICATE_CONFIG": str(cfg_path), "REDIS_URL": redis_url,
           "SYNDICATE_REDIS_PREFIX": prefix}
    web = subprocess.Popen([sys.executable, "-m", "syndicate", "--log-level", "WARNING", "web",
                            "--port", str(port)], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    url = f"http://127.0.0.1:{port}/feed.atom"
    try:
        for _ in range(100):
            try:
                etag = requests.get(url, timeout=1).headers["ETag"]
                break
            except requests.RequestException:
                time.sleep(0.1)
        ok = not_modified = gzipped = 0.0
        if wrk:
            ok = _wrk(wrk, url, seconds, [])
            gzipped = _wrk(wrk, url, seconds, ["-H", "Accept-Encoding: gzip"])
            not_modified = _wrk(wrk, url, seconds, ["-H", f"If-None-Match: {etag}"])
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait()
        cleanup(redis_url, prefix)
        shutil.rmtree(folder, ignore_errors=True)
    note = ("wrk -t2 -c32; `syndicate web` as it ships (one process)" if wrk
            else "wrk is not installed (apt-get install wrk)")
    return [Figure(f"reader feed /feed.atom ({size} entries), 200s", ok, "req/s", base,
                   ">= 20x rendering per request", bool(wrk) and ok / base >= 20,
                   note + "; the full feed uncompressed"),
            Figure(f"reader feed /feed.atom ({size} entries), 200s with gzip (as feed readers "
                   "ask)", gzipped, "req/s", base, ">= 20x rendering per request",
                   bool(wrk) and gzipped / base >= 20, note),
            Figure(f"reader feed /feed.atom ({size} entries), 304s", not_modified, "req/s", None,
                   ">= 2,000 req/s", not_modified >= 2000, note)]


def _wrk(wrk: str, url: str, seconds: int, extra: list[str]) -> float:
    out = subprocess.run([wrk, "-t2", "-c32", f"-d{seconds}s", *extra, url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else 0.0


def table(figures: list[Figure]) -> str:
    lines = ["| figure | measured | baseline (same run) | ratio | goal | met | notes |",
             "|---|---|---|---|---|---|---|"]
    for f in figures:
        base = f"{f.baseline:,.1f}" if f.baseline else "—"
        lines.append(f"| {f.name} | {f.value:,.1f} {f.unit} | {base} | {f.ratio} | {f.goal} "
                     f"| {'yes' if f.met else 'NO'} | {f.note} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    ap.add_argument("--write", action="store_true", help="also write bench/RESULTS.md")
    ap.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    ap.add_argument("--only", default="", help="comma-separated steps: poll, webhook, fanout, "
                    "rtt, feed, startup, peer")
    args = ap.parse_args()
    q = args.quick
    steps: list[Callable[[], list[Figure]]] = [
        lambda: polling(args.redis, 20 if q else 1000, 5 if q else 50),
        lambda: webhook_latency(args.redis, 5 if q else 200, 5 if q else 50),
        lambda: fan_out_shapes(args.redis, q),
        lambda: round_trips(args.redis, 5 if q else 200),
        lambda: reader_feed(args.redis, 1 if q else 5, 50)
        + reader_feed(args.redis, 1 if q else 5, 500),
    ]
    steps.append(lambda: startup(1 if q else 3))
    names = ["poll", "webhook", "fanout", "rtt", "feed", "startup"]
    if not q or "peer" in args.only.split(","):  # the peer takes minutes: not in a smoke run
        steps.append(lambda: peer_figures(args.redis, q))
        names.append("peer")
    if args.only:
        steps = [s for n, s in zip(names, steps, strict=True) if n in args.only.split(",")]
    figures: list[Figure] = []
    for step in steps:
        got = step()
        figures += got
        for f in got:
            print(f"{f.name}: {f.value:,.1f} {f.unit} (goal {f.goal}) {f.note}", flush=True)
    md = table(figures)
    print("\n" + md)
    if args.write:
        machine = (f"{platform.machine()}, {os.cpu_count()} cores, "
                   f"{psutil.virtual_memory().total // 2**30} GiB, Python "
                   f"{platform.python_version()}, Redis "
                   f"{redis.Redis.from_url(args.redis).info('server')['redis_version']}")
        path = ROOT / "RESULTS.md"
        # The sections after the table are written by hand (what each figure rests on); keep them.
        old = path.read_text() if path.exists() else ""
        notes = old[old.index("\n## "):] if "\n## " in old else "\n"
        path.write_text(
            f"# Benchmark results\n\n`python -m bench --write`, {datetime.now(UTC):%Y-%m-%d}, "
            f"{machine}.\nEvery server is on loopback; baselines are measured in the same run."
            f"\n\n{md}\n{notes}")


if __name__ == "__main__":
    main()
