"""Runs syndicate's real processes (web, worker, beat or `up`) as subprocesses for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench.faults.harness import dump_toml

from .fakes.smtp import free_port


def write_config(path: Path, *, sources: list[dict[str, Any]], targets: list[dict[str, Any]],
                 webhook_secret: str, worker: dict[str, str] | None = None) -> Path:
    path.write_text(dump_toml({
        "site": {"title": "Sanjay Basu", "url": "http://127.0.0.1:8080/",
                 "author": "Sanjay Basu"},
        "webhook": {"secret": webhook_secret}, "sources": sources, "targets": targets,
        "fetch": {"allow_private": True},
        "worker": worker or {"tick": "1s", "retry_base": "1s", "retry_cap": "5s"}}))
    return path


def wait_for(check: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except requests.RequestException:
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Service:
    """`web`, `worker` and `beat` as the production shape runs them."""

    def __init__(self, config: Path, env: dict[str, str], data: Path) -> None:
        self.config = config
        self.env = {**os.environ, **env, "SYNDICATE_CONFIG": str(config)}
        self.data = data
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logs = data / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "syndicate", *args], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)

    def start_worker(self) -> None:
        self._spawn("worker", "worker", "--concurrency", "4")

    def start(self) -> Service:
        self._spawn("web", "web", "--port", str(self.port))
        self.start_worker()
        self._spawn("beat", "beat", "--data", str(self.data))
        wait_for(lambda: requests.get(self.url + "/healthz", timeout=2).json().get("workers"),
                 timeout=60, what="a worker to check in")
        return self

    def stop_one(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        return proc.returncode

    def stop(self) -> None:
        for name in list(self.procs):
            self.stop_one(name)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "syndicate", *args], env=self.env,
                              capture_output=True, text=True, timeout=60)

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")
