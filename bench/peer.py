"""syndicate against a real peer: rss2email, the Python tool people use to mail their feeds.

Both read the same farm of feeds (varied real text, ETag and Last-Modified, an answer delay of
0 or 100 ms with jitter) and mail the same SMTP sink, in the same run:

- first run: every entry of every feed to SMTP, as both do on a feed's first run;
- unchanged feeds (304), at 0 ms and at 100 ms: rss2email fetches one feed after another,
  syndicate polls as its workers do, many at once;
- a server that ignores ETag: rss2email parses every feed again, syndicate compares bytes.

`pip install -e '.[bench]'` installs rss2email; without it the peer rows are skipped.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil

from bench.faults.harness import Cluster, CountingSmtp, workdir
from bench.sites import Farm, atom

FIRST_RUN_WORKERS = os.cpu_count() or 2  # worker processes on the first run, 8 threads each
PEER_THREADS = 32  # the threads of one worker process in the volume shape (4 x 32)


def r2e() -> str | None:
    found = shutil.which("r2e") or str(Path(sys.executable).with_name("r2e"))
    return found if Path(found).exists() else None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Peer:
    """One rss2email installation: its config, its data file, and a timed `r2e run`."""

    def __init__(self, folder: Path, feeds: dict[str, str], smtp_port: int) -> None:
        exe = r2e()
        assert exe is not None
        self.exe = exe
        folder.mkdir(parents=True, exist_ok=True)
        self.cfg, self.data = folder / "r2e.cfg", folder / "r2e.json"
        subprocess.run([self.exe, "-c", str(self.cfg), "-d", str(self.data), "new",
                        "sink@bench.example"], check=True, capture_output=True)
        text = self.cfg.read_text()
        for key, value in (("email-protocol", "smtp"), ("smtp-server", "127.0.0.1"),
                           ("smtp-port", str(smtp_port)), ("smtp-ssl", "False"),
                           ("smtp-auth", "False"), ("verbose", "warning")):
            text = "\n".join(f"{key} = {value}" if line.split(" = ")[0] == key else line
                             for line in text.splitlines())
        text += "".join(f"\n[feed.{name}]\nurl = {url}\n" for name, url in feeds.items())
        self.cfg.write_text(text)
        self.data.write_text(json.dumps({"version": 2, "feeds": [
            {"name": name, "etag": None, "modified": None, "seen": {}} for name in feeds]}))

    def run(self) -> tuple[float, float]:
        """(seconds, CPU seconds) of one `r2e run` over every feed."""
        cpu, started = _children_cpu(), time.perf_counter()
        done = subprocess.run([self.exe, "-c", str(self.cfg), "-d", str(self.data), "run"],
                              capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stderr[-1000:]
        return time.perf_counter() - started, _children_cpu() - cpu


def first_run(redis_url: str, feeds: int, entries: int, rounds: int = 3) -> dict[str, Any]:
    """Every entry of every feed mailed: entries/s and CPU per email, both tools; the medians of
    `rounds` alternating rounds, each tool starting from nothing in each."""
    farm, sink = Farm(), CountingSmtp()
    folder = workdir()
    try:
        urls = {f"b{i}": farm.put(f"/feed/{i}", atom(entries, blog=i)) for i in range(feeds)}
        total = feeds * entries
        runs: list[dict[str, float]] = []
        for n in range(rounds):
            run: dict[str, float] = {}
            # rss2email
            before = sum(sink.count.values())
            seconds, cpu = Peer(folder / f"r2e{n}", urls, sink.port).run()
            run["r2e_sent"] = sum(sink.count.values()) - before
            run["r2e_rate"] = run["r2e_sent"] / seconds
            run["r2e_cpu_ms"] = 1000 * cpu / max(1, run["r2e_sent"])
            # syndicate: its real worker processes, one per core of 8 threads each (how to
            # scale a worker out; `syndicate up` runs one process of 4 threads)
            run.update(_syndicate_first_run(redis_url, folder / f"syndicate{n}", urls, sink,
                                            total, prefix=f"peer{n}"))
            runs.append(run)
        out: dict[str, Any] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        out["spread"] = (min(r["rate"] for r in runs), max(r["rate"] for r in runs))
        out["cpu_spread"] = (min(r["cpu_ms"] for r in runs), max(r["cpu_ms"] for r in runs))
        out["sent"] = (min(int(r["r2e_sent"]) for r in runs), min(int(r["sent"]) for r in runs))
        out["total"] = total
        return out
    finally:
        farm.stop()
        sink.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _syndicate_first_run(redis_url: str, folder: Path, urls: dict[str, str], sink: CountingSmtp,
                         total: int, prefix: str) -> dict[str, float]:
    cluster = Cluster(redis_url, folder, [{
        "name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": sink.port,
        "security": "none", "from": "S <s@bench.example>", "to": ["sink@bench.example"],
        "timeout": "10s"}],
        sources=[{"name": name, "url": url, "backfill": True, "poll_interval": "1h",
                  "flood_limit": 100_000} for name, url in urls.items()],
        worker={"tick": "1h", "concurrency": "8"}, prefix=prefix)
    try:
        rt = cluster.runtime()
        for w in range(FIRST_RUN_WORKERS):
            cluster.start_worker(f"worker{w}", concurrency=8)
        time.sleep(3)
        procs = [psutil.Process(p.pid) for p in cluster.procs.values()]
        cpu0 = sum(sum(p.cpu_times()[:2]) for p in procs)
        before = sum(sink.count.values())
        started = time.perf_counter()
        for name in urls:
            rt.queue.poll(name)
        while sum(sink.count.values()) - before < total and \
                time.perf_counter() - started < 900:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        cpu = sum(sum(p.cpu_times()[:2]) for p in procs) - cpu0
        sent = sum(sink.count.values()) - before
    finally:
        cluster.stop()
    return {"rate": sent / seconds, "cpu_ms": 1000 * cpu / max(1, sent), "sent": sent}


def unchanged(redis_url: str, feeds: int, entries: int, latency: float,
              rounds: int = 3, ignored: bool = True) -> dict[str, Any]:
    """Polls per second over unchanged feeds (304), and (with `ignored`) over feeds whose server
    ignores ETag, both tools; the medians of `rounds` alternating rounds."""
    from syndicate.queue import MemoryQueue
    from syndicate.runtime import Runtime

    from . import __main__ as main

    farm, sink = Farm(), CountingSmtp()
    folder = workdir()
    prefix = f"bench-peer-{os.getpid()}"
    try:
        urls = {f"b{i}": farm.put(f"/feed/{i}", atom(entries, blog=i)) for i in range(feeds)}
        peer = Peer(folder / "r2e", urls, sink.port)
        cfg = main._config(redis_url, prefix, [
            {"name": n, "url": u, "flood_limit": 100_000} for n, u in urls.items()], [])
        rt = Runtime.open(cfg, queue=MemoryQueue())
        names = list(urls)
        with ThreadPoolExecutor(PEER_THREADS) as pool:
            peer.run()  # first runs: everything recorded (and mailed) once
            list(pool.map(rt.poll, names))
            farm.latency(latency)
            out: dict[str, Any] = {}
            for honour in (True, False) if ignored else (True,):
                farm.honour_etag(honour)
                ours, theirs = [], []
                for _ in range(rounds):
                    seconds, _cpu = peer.run()
                    theirs.append(feeds / seconds)
                    started = time.perf_counter()
                    list(pool.map(rt.poll, names))
                    ours.append(feeds / (time.perf_counter() - started))
                key = "304" if honour else "ignored"
                out[key] = (statistics.median(ours), statistics.median(theirs),
                            min(ours), max(ours))
            farm.latency(0.0)
        return out
    finally:
        farm.stop()
        sink.stop()
        main.cleanup(redis_url, prefix)
        shutil.rmtree(folder, ignore_errors=True)

