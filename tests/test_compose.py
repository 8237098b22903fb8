"""docker compose, proven: the file is valid, and the production shape really runs.

No registry image can be pulled here, so the test builds its own base from Debian's packages
(`debootstrap`, then `docker import`, cached between runs) and points the Dockerfile's
`BASE_IMAGE` and compose's `REDIS_IMAGE` at it. The daemon is Debian's `docker.io`, started by
the test when none runs (`dockerd --iptables=false --bridge=none`, as root): with no bridge the
stack runs on the host's network, on free loopback ports, otherwise as `docker-compose.yml` says.
It checks the feeds, a publish webhook and one delivery, then `restart worker` and a Redis
restart, with every post delivered exactly once; and that worker and beat report healthy.
Where the daemon cannot run, the stack test skips with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from syndicate import signing
from syndicate.config import webhook_secret

from .conftest import fixture_bytes
from .fakes.http import LoopbackServer, Reply, Request
from .fakes.smtp import free_port
from .service import wait_for
from .test_poller import NEW_POST, with_new_post

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("SYNDICATE_TEST_CACHE") or Path.home() / ".cache" / "syndicate-tests")
BASE = "syndicate-test-base:bookworm"
SECRET = "whsec_" + "c3luZGljYXRlLWNvbXBvc2UtdGVzdC1zZWNyZXQtMzI="
OUTBOUND = "whsec_c3luZGljYXRlLXRlc3Qtb3V0Ym91bmQtc2VjcmV0LTE="


def compose_cmd() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"],
                                                 capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def test_compose_file_is_valid(tmp_path: Path) -> None:
    cmd = compose_cmd()
    if cmd is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    done = subprocess.run([*cmd, "-f", str(ROOT / "docker-compose.yml"), "config"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert {"redis", "web", "worker", "beat"} <= set(services)
    for name in ("worker", "beat", "web"):
        assert services[name].get("healthcheck"), name


def _daemon() -> None:
    """A running Docker daemon, started here if there is none and we may."""
    if shutil.which("docker") is None:
        raise Unavailable("no docker client (apt-get install docker.io)")
    if subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0:
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        raise Unavailable("no Docker daemon, and none can be started here (root and docker.io "
                          "are needed)")
    log = open(CACHE / "dockerd.log", "ab")  # noqa: SIM115 - lives with the daemon
    subprocess.Popen(["dockerd", "--iptables=false", "--bridge=none"], stdout=log,
                     stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            return
        time.sleep(1)
    raise Unavailable("dockerd did not start within 60 s")


class Unavailable(Exception):
    pass


def _base_image() -> None:
    """Debian bookworm with Python and redis-server, built with debootstrap (once, cached), with
    this machine's CA bundle so that pip inside the build trusts what this machine trusts."""
    if subprocess.run(["docker", "image", "inspect", BASE], capture_output=True).returncode == 0:
        return
    tarball = CACHE / "bookworm-rootfs.tar"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise Unavailable("debootstrap is not installed (apt-get install debootstrap)")
        rootfs = CACHE / "rootfs"
        shutil.rmtree(rootfs, ignore_errors=True)
        done = subprocess.run(["debootstrap", "--variant=minbase",
                               "--include=python3,python3-venv,ca-certificates,redis-server",
                               "bookworm", str(rootfs), "http://deb.debian.org/debian"],
                              capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise Unavailable(f"debootstrap failed: {done.stderr[-300:]}")
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        shutil.rmtree(rootfs, ignore_errors=True)
    ca = Path("/etc/ssl/certs/ca-certificates.crt")
    work = CACHE / "ca"
    work.mkdir(parents=True, exist_ok=True)
    image = subprocess.run(["docker", "import", str(tarball), BASE + "-raw"], capture_output=True,
                           text=True)
    if image.returncode != 0:
        raise Unavailable(f"docker import failed: {image.stderr[-300:]}")
    shutil.copy(ca, work / "ca-certificates.crt")
    (work / "Dockerfile").write_text(f"FROM {BASE}-raw\n"
                                     "COPY ca-certificates.crt /etc/ssl/certs/\n")
    subprocess.run(["docker", "build", "-q", "-t", BASE, str(work)], check=True,
                   capture_output=True, timeout=300)


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle(self, request: Request) -> Reply:
        self.ids.append(str(request.json()["entry"]["guid"]))
        return Reply(200, b"ok")


def _stack_file(folder: Path, feed: str, hook: str, redis_port: int, web_port: int) -> Path:
    """docker-compose.yml as it is, moved to the host's network on free ports (no bridge here)
    and pointed at a config for the loopback feed and receiver."""
    spec: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    config = folder / "config"
    config.mkdir()
    (config / "syndicate.toml").write_text(f"""
[site]
title = "Compose"
url = "${{SYNDICATE_SITE_URL}}"
[webhook]
secret = "${{SYNDICATE_WEBHOOK_SECRET}}"
[fetch]
allow_private = true
[worker]
tick = "1s"
retry_base = "1s"
[[sources]]
name = "blog"
url = "{feed}"
poll_interval = "1h"
[[targets]]
name = "hook"
kind = "webhook"
url = "{hook}"
secret = "${{SYNDICATE_OUTBOUND_SECRET}}"
""")
    os.chmod(config, 0o755)
    services = spec["services"]
    services.pop("flower")
    for name, svc in services.items():
        svc["network_mode"] = "host"
        svc.pop("ports", None)
        if "healthcheck" in svc:
            svc["healthcheck"]["interval"] = "3s"
        if name != "redis":
            svc["build"]["context"] = str(ROOT)
            svc["volumes"] = [v.replace("./config", str(config)) for v in svc.get("volumes", [])]
            env = svc["environment"]
            env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"
            env["SYNDICATE_SITE_URL"] = f"http://127.0.0.1:{web_port}/"
            svc.pop("depends_on", None)
    services["redis"]["command"] += ["--port", str(redis_port), "--bind", "127.0.0.1",
                                     "--dir", "/data"]
    services["redis"]["healthcheck"]["test"] = ["CMD", "redis-cli", "-p", str(redis_port),
                                                "ping"]
    services["web"]["command"] = ["syndicate", "web", "--host", "127.0.0.1", "--port",
                                  str(web_port)]
    services["web"]["healthcheck"]["test"] = [
        "CMD", "python3", "-c", "import urllib.request; urllib.request.urlopen("
        f"'http://127.0.0.1:{web_port}/healthz')"]
    path = folder / "compose.yml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def stack(tmp_path: Path, feed_server) -> Iterator[dict[str, Any]]:
    cmd = compose_cmd()
    if cmd is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        _daemon()
        _base_image()
    except (Unavailable, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"the compose stack cannot run here: {exc}")
    receiver = Receiver().start()
    feed = feed_server.put("/feeds/posts/default", fixture_bytes("blogger-atom.xml"))
    redis_port, web_port = free_port(), free_port()
    path = _stack_file(tmp_path, feed, receiver.url + "/hook", redis_port, web_port)
    project = f"syndtest{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "SYNDICATE_BASE_IMAGE": BASE, "REDIS_IMAGE": BASE,
           "SYNDICATE_WEBHOOK_SECRET": SECRET, "SYNDICATE_OUTBOUND_SECRET": OUTBOUND}
    base = [*cmd, "-f", str(path), "-p", project]

    def compose(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout)

    build = subprocess.run(["docker", "build", "--network", "host", "--build-arg",
                            f"BASE_IMAGE={BASE}", "-t", "syndicate:latest", str(ROOT)],
                           capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-2000:]
    up = compose("up", "-d", "--no-build")
    assert up.returncode == 0, up.stderr
    try:
        yield {"compose": compose, "web": f"http://127.0.0.1:{web_port}", "receiver": receiver,
               "feed_server": feed_server, "project": project}
    finally:
        logs = compose("logs", "--no-color", timeout=120).stdout
        (tmp_path / "stack.log").write_text(logs)
        compose("down", "-v", "--remove-orphans", timeout=300)
        receiver.stop()


def _publish(web: str) -> int:
    body = json.dumps({"source": "blog"}).encode()
    secret = webhook_secret(SECRET, "t")
    assert secret is not None
    hdrs = signing.headers(secret, f"msg_{uuid.uuid4().hex}", body)
    return requests.post(web + "/hooks/publish", data=body, timeout=10,
                         headers={**hdrs, "Content-Type": "application/json"}).status_code


def _new_post(stack: dict[str, Any], n: int) -> str:
    post = NEW_POST.replace("1111111111111111111", f"77700000000000{n:05d}").replace(
        "a-new-post", f"compose-{n}").replace("A New Post", f"Compose {n}")
    feed = fixture_bytes("blogger-atom.xml")
    for i in range(1, n + 1):
        feed = with_new_post(feed, post.replace(f"{n:05d}", f"{i:05d}").replace(
            f"compose-{n}", f"compose-{i}").replace(f"Compose {n}", f"Compose {i}"))
    stack["feed_server"].put("/feeds/posts/default", feed)
    return f"77700000000000{n:05d}"


def test_the_compose_stack_runs_and_loses_nothing(stack: dict[str, Any]) -> None:
    web, receiver, compose = stack["web"], stack["receiver"], stack["compose"]
    wait_for(lambda: requests.get(web + "/healthz", timeout=3).json().get("workers"),
             timeout=120, what="the web app and a worker")
    wait_for(lambda: requests.get(web + "/feed.json", timeout=3).json()["items"], timeout=60,
             what="the first poll (at start)")
    assert requests.get(web + "/feed.xml", timeout=5).status_code == 200
    for n, disturb in ((1, None), (2, ("restart", "worker")), (3, ("restart", "redis"))):
        if disturb:
            done = compose(*disturb)
            assert done.returncode == 0, done.stderr
            wait_for(lambda: requests.get(web + "/healthz", timeout=3).json().get("workers"),
                     timeout=120, what=f"the stack after {' '.join(disturb)}")
        _new_post(stack, n)
        wait_for(lambda: _publish(web) == 202, timeout=60, what="the publish webhook")
        wait_for(lambda n=n: len(set(receiver.ids)) >= n, timeout=120, what=f"delivery {n}")
    time.sleep(3)
    assert len(receiver.ids) == len(set(receiver.ids)) == 3, receiver.ids  # once each
    for part in ("worker", "beat"):
        state = wait_for(lambda part=part: _health(stack["project"], part) == "healthy",
                         timeout=60, what=f"{part} healthy")
        assert state


def _health(project: str, service: str) -> str:
    ids = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project="
                          f"{project}", "--filter", f"label=com.docker.compose.service={service}"],
                         capture_output=True, text=True).stdout.split()
    if not ids:
        return "missing"
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", ids[0]],
                         capture_output=True, text=True).stdout.strip()
    return out
