"""Each scenario: run the faults, drain, count what the targets received. `control=True` runs it
with the protection under test switched off, which must show losses or duplicates."""

from __future__ import annotations

import time
from pathlib import Path

from .harness import (
    HOOK_SECRET,
    Cluster,
    CountingSmtp,
    CountingTarget,
    Every,
    QuietHandler,
    RedisProc,
    Result,
    TargetBehaviour,
    check,
    drain,
    seed,
    serve,
    unknown_ids,
)


def _targets(hook: CountingTarget, smtp: CountingSmtp | None, timeout: str = "1s",
             max_attempts: int = 20, hook2: CountingTarget | None = None
             ) -> list[dict[str, object]]:
    # With `hook2`, an entry's two webhooks share one task and are made at once (two lanes).
    out: list[dict[str, object]] = [
        {"name": name, "kind": "webhook", "url": h.url, "secret": HOOK_SECRET,
         "timeout": timeout, "max_attempts": max_attempts}
        for name, h in (("hook", hook), ("hook2", hook2)) if h is not None]
    if smtp is not None:
        out.append({"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
                    "security": "none", "from": "f@faults.example",
                    "to": ["r@faults.example"], "timeout": timeout,
                    "max_attempts": max_attempts})
    return out


def worker_kill(folder: Path, redis_url: str, *, entries: int = 1000, every: float = 3.0,
                control: bool = False, timeout: float = 240.0, latency: float = 0.02) -> Result:
    """kill -9 the worker every few seconds while deliveries run; start it again each time.
    Every target answers after `latency`, so that kills land in the middle of a run of emails
    (one task makes several), of a webhook's request, and of a run whose two webhooks are being
    made at once."""
    hook, smtp = CountingTarget(TargetBehaviour(latency=latency)), CountingSmtp(latency)
    hook2 = CountingTarget(TargetBehaviour(latency=latency), seed=8)
    cluster = Cluster(redis_url, folder, _targets(hook, smtp, hook2=hook2), prefix="f-kill",
                      unsafe="acks_early,no_reconcile" if control else "")
    try:
        rt = cluster.up()
        started = time.monotonic()
        ids = seed(rt, entries)

        def restart_worker() -> None:
            cluster.kill("worker")
            cluster.start_worker()

        chaos = Every(every, 40, restart_worker)
        states = drain(rt, 3 * entries, 45 if control else timeout, chaos)
        if not control:  # the last worker lives: let leases run out and the reconciler finish
            states = drain(rt, 3 * entries, timeout)
        return check("worker kill -9", ids, hook=hook, smtp=smtp, states=states, hook2=hook2,
                     started=started, faults=chaos.count, control=control,
                     unknown_mail=unknown_ids(rt, "mail"),
                     notes=f"{chaos.count} kills, every {every:g}s")
    finally:
        cluster.stop()
        hook.stop()
        hook2.stop()
        smtp.stop()


def visibility(folder: Path, redis_url: str, *, entries: int = 100, control: bool = False,
               timeout: float = 180.0) -> Result:
    """Tasks that outlive the broker's visibility timeout are redelivered while still running.

    kombu hands unacknowledged messages older than the visibility timeout back to the queue when
    a consumer starts; so a second worker starts once the first sends have outlived it."""
    hook = CountingTarget(TargetBehaviour(latency=4.0), dedupe=False)
    cluster = Cluster(redis_url, folder, _targets(hook, None, timeout="10s"), prefix="f-vis",
                      unsafe="no_claim" if control else "",
                      worker={"visibility_timeout": "2s", "lease_margin": "30s"})
    try:
        rt = cluster.runtime()
        cluster.start_beat()
        cluster.start_worker(concurrency=entries)
        time.sleep(3)  # the worker is up and consuming
        started = time.monotonic()
        ids = seed(rt, entries)
        time.sleep(2.5)  # every send is in flight and older than the visibility timeout
        cluster.start_worker("worker2", concurrency=entries)
        states = drain(rt, entries, timeout)
        time.sleep(3)  # redelivered copies still in flight
        return check("tasks longer than the visibility timeout", ids, hook=hook, states=states,
                     started=started, faults=entries, control=control,
                     notes="visibility 2s, each send 4s; receiver counts raw POSTs")
    finally:
        cluster.stop()
        hook.stop()


def redis_kill(folder: Path, _redis_url: str, *, entries: int = 1000, every: float = 4.0,
               control: bool = False, timeout: float = 240.0) -> Result:
    """kill -9 Redis and start it on its AOF (appendfsync always) during the deliveries."""
    server = RedisProc(folder / "redis", appendonly=not control).start()
    hook, smtp = CountingTarget(TargetBehaviour(latency=0.1)), CountingSmtp()
    hook2 = CountingTarget(TargetBehaviour(latency=0.1), seed=8)  # shares each entry's task
    cluster = Cluster(server.url, folder / "cluster", _targets(hook, smtp, hook2=hook2),
                      prefix="f-redis")
    try:
        rt = cluster.up()
        started = time.monotonic()
        ids = seed(rt, entries)
        restarts = 0

        def restart_redis() -> None:
            server.kill()
            server.start()

        kill_redis = Every(every, 10, restart_redis)

        def chaos() -> None:
            nonlocal restarts
            kill_redis()
            # As `syndicate up` and docker's restart policy do: a worker that exits is started.
            for name in ("worker", "beat"):
                proc = cluster.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    cluster.procs.pop(name)
                    (cluster.start_worker if name == "worker" else cluster.start_beat)()
                    restarts += 1

        def safe_drain(during):  # type: ignore[no-untyped-def]
            try:
                return drain(rt, 3 * entries, 60 if control else timeout, during)
            except Exception:  # Redis away for a moment: look again
                time.sleep(0.5)
                return drain(rt, 3 * entries, 60 if control else timeout, during)

        states = safe_drain(chaos)
        return check("Redis kill -9, restart on AOF", ids, hook=hook, smtp=smtp, states=states,
                     hook2=hook2, started=started, faults=kill_redis.count, control=control,
                     unknown_mail=unknown_ids(rt, "mail"),
                     notes=f"{kill_redis.count} kills, {restarts} process restarts; " + (
                         "AOF off" if control else "appendonly yes, appendfsync always"))
    finally:
        cluster.stop()
        hook.stop()
        hook2.stop()
        smtp.stop()
        server.stop()


def commit_then_fail(folder: Path, redis_url: str, *, entries: int = 500,
                     control: bool = False, timeout: float = 240.0) -> Result:
    """The target commits, then drops the connection or stalls past the timeout, on 30% of calls
    (the target has a lookup: here the receiver dedupes by webhook-id, as the scheme says)."""
    hook = CountingTarget(TargetBehaviour(drop_after_commit=0.15, stall_after_commit=0.15),
                          dedupe=not control)
    cluster = Cluster(redis_url, folder, _targets(hook, None), prefix="f-commit")
    try:
        rt = cluster.up()
        started = time.monotonic()
        ids = seed(rt, entries)
        states = drain(rt, entries, timeout)
        return check("target commits, then drops or stalls (30%)", ids, hook=hook,
                     states=states, started=started, faults=hook.faults, control=control,
                     notes="control: a receiver that ignores webhook-id")
    finally:
        cluster.stop()
        hook.stop()


def flaky_target(folder: Path, redis_url: str, *, entries: int = 500, control: bool = False,
                 timeout: float = 240.0) -> Result:
    """503 on 20% of calls and bursts of 429 with Retry-After: 2. Attempts are capped; what
    gives up is dead, visible, and `syndicate retry` brings it home."""
    hook = CountingTarget(TargetBehaviour(fail_503=0.2, burst_429=0.02, retry_after=2.0))
    cluster = Cluster(redis_url, folder, _targets(hook, None, max_attempts=3), prefix="f-flaky",
                      unsafe="no_retry_after" if control else "")
    try:
        rt = cluster.up()
        started = time.monotonic()
        ids = seed(rt, entries)
        states = drain(rt, entries, timeout)
        dead = states.get("dead", 0)
        # Dead letters are visible, and retriable by the operator.
        import subprocess
        import sys
        out = subprocess.run([sys.executable, "-m", "syndicate", "retry"], env=cluster.env,
                             capture_output=True, text=True, timeout=60)
        hook.b.fail_503 = hook.b.burst_429 = 0.0
        states = drain(rt, entries, timeout) if dead else states
        result = check("503 on 20%, 429 bursts with Retry-After: 2", ids, hook=hook,
                       states=states, started=started, faults=hook.faults, control=control,
                       notes=f"{dead} dead after 3 attempts, then `syndicate retry`: "
                             f"{out.stdout.strip()}; {hook.too_soon} retried before their "
                             f"Retry-After, {hook.early} calls while a 429 burst was on")
        result.dup += hook.too_soon  # a send before Retry-After breaks the promise too
        result.dead = dead
        return result
    finally:
        cluster.stop()
        hook.stop()


def two_schedulers(folder: Path, redis_url: str, *, seconds: float = 12.0,
                   control: bool = False) -> Result:
    """Two schedulers at once: one poll per interval; kill the one that holds the lock."""
    polls: list[float] = []
    feed = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>"
            b"<link>https://faults.example</link></channel></rss>")

    class Feed(QuietHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: each poll is counted once

        def do_GET(self) -> None:  # noqa: N802
            polls.append(time.monotonic())
            self.send_response(200)
            self.send_header("Content-Length", str(len(feed)))
            self.end_headers()
            self.wfile.write(feed)

    httpd = serve(Feed)
    url = f"http://127.0.0.1:{httpd.server_address[1]}/feed"
    cluster = Cluster(redis_url, folder, [], prefix="f-beat",
                      sources=[{"name": "s", "url": url, "poll_interval": "2s"}],
                      worker={"tick": "0.5s"}, unsafe="no_schedule_lock" if control else "")
    try:
        cluster.start_worker()
        cluster.start_beat("beat1")
        cluster.start_beat("beat2")
        time.sleep(4)
        started = time.monotonic()
        polls.clear()
        time.sleep(seconds / 2)
        cluster.kill("beat1")  # whichever holds it, the other goes on
        time.sleep(seconds / 2)
        return _judge_polls(polls, started, seconds, interval=2.0, tick=0.5, control=control)
    finally:
        cluster.stop()
        httpd.shutdown()


def _judge_polls(polls: list[float], started: float, seconds: float, *, interval: float,
                 tick: float, control: bool) -> Result:
    """Counted from the poll timestamps, not a total: a duplicate is two polls closer together
    than an interval allows (less the queue's own jitter), a loss a gap longer than an interval
    plus a scheduler tick and the time a kill takes to matter."""
    times = sorted(polls)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    dup = sum(1 for g in gaps if g < interval * 0.75)
    bounds = [started, *times, started + seconds]
    lost = sum(int((b - a) // (interval + tick + 1.0)) for a, b in zip(bounds, bounds[1:],
                                                                      strict=False))
    offsets = " ".join(f"{t - started:.2f}" for t in times)
    return Result("two schedulers at once", deliveries=len(times), faults=1, lost=lost, dup=dup,
                  unknown=0, seconds=round(seconds, 1), control=control,
                  notes=f"{len(times)} polls in {seconds:g}s at a {interval:g}s interval, one beat "
                        f"killed; shortest gap {min(gaps, default=0):.2f}s; polls at {offsets}")


SCENARIOS = {
    "worker_kill": worker_kill,
    "visibility": visibility,
    "redis_kill": redis_kill,
    "commit_then_fail": commit_then_fail,
    "flaky_target": flaky_target,
    "two_schedulers": two_schedulers,
}
