"""A newcomer's first hour, as real processes: `syndicate init` on a (loopback) blog, `syndicate
up` with no Redis named (the data folder's embedded one), a new post, a signed `syndicate hook`,
and `syndicate status` in a second terminal seeing the delivery. Then the stumbling blocks, one
test each: a second `up` on a taken port, an unreachable Redis, config defaults, dry runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import fixture_bytes
from .fakes.http import LoopbackServer, Reply, Request
from .fakes.smtp import free_port
from .service import wait_for
from .test_poller import NEW_POST, with_new_post


class Receiver(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[dict[str, object]] = []

    def handle(self, request: Request) -> Reply:
        self.bodies.append(request.json())
        return Reply(200, b"ok")


def clean_env() -> dict[str, str]:
    """A newcomer's shell: no Redis, no config, no secrets named."""
    return {k: v for k, v in os.environ.items()
            if k not in ("REDIS_URL", "SYNDICATE_CONFIG", "SYNDICATE_REDIS_PREFIX")
            and not k.startswith(("SYNDICATE_WEBHOOK", "SYNDICATE_ADMIN"))}


def syndicate(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syndicate", *args], cwd=cwd, env=clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_first_hour(tmp_path: Path, feed_server) -> None:
    receiver = Receiver().start()
    feed_url = feed_server.put("/feeds/posts/default", fixture_bytes("blogger-atom.xml"))
    port = free_port()
    up = None
    try:
        done = syndicate(tmp_path, "init", "--source", feed_url, "--target", "webhook",
                         "--set", f"url={receiver.url}/hook")
        assert done.returncode == 0, done.stderr
        assert "The Synthetic Mind" in done.stdout  # it read the feed and showed its posts
        assert (tmp_path / "config" / "syndicate.toml").exists()
        assert "SYNDICATE_WEBHOOK_SECRET=whsec_" in (tmp_path / ".env").read_text()
        doctor = syndicate(tmp_path, "doctor")
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed below
        up = subprocess.Popen([sys.executable, "-m", "syndicate", "up", "--port", str(port)],
                              cwd=tmp_path, env=clean_env(), stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(base + "/healthz", timeout=2).json().get("workers"),
                 timeout=60, what="syndicate up")
        # The first poll ran at start (a new source): the posts there are recorded, not sent.
        wait_for(lambda: requests.get(base + "/feed.json", timeout=2).json()["items"],
                 timeout=30, what="the first poll")
        assert receiver.bodies == []
        feed_server.put("/feeds/posts/default",
                        with_new_post(fixture_bytes("blogger-atom.xml"), NEW_POST))
        hooked = syndicate(tmp_path, "hook", "blog", "--url", base + "/hooks/publish")
        assert hooked.returncode == 0 and "202" in hooked.stdout, hooked.stdout + hooked.stderr
        wait_for(lambda: receiver.bodies, timeout=30, what="the delivery")
        assert len(receiver.bodies) == 1
        assert receiver.bodies[0]["entry"]["title"] == "A New Post"  # type: ignore[index]
        # A second terminal: the same installation, found through the data folder.
        status = syndicate(tmp_path, "status")
        assert status.returncode == 0
        assert "delivered" in status.stdout and "A New Post" in status.stdout, status.stdout
        second = syndicate(tmp_path, "up", "--port", str(port), timeout=30)
        assert second.returncode != 0
        assert f"port {port} is already in use" in second.stderr
    finally:
        if up is not None:
            os.killpg(up.pid, signal.SIGINT)
            up.wait(timeout=90)
        receiver.stop()
    text = (tmp_path / "up.log").read_text()
    first = text.splitlines()[:12]
    assert any("starting: config" in line and "Redis unix://" in line for line in first)
    assert "failed" not in text.split("received SIGINT", 1)[-1].lower()  # a clean stop
    assert "Task syndicate.tick" not in text  # the scheduler's ticks are debug lines
    assert all(line.startswith("ts=") for line in text.splitlines() if line.strip()), \
        [line for line in text.splitlines() if not line.startswith("ts=")][:5]


def test_unreachable_redis_fails_fast_in_one_line(tmp_path: Path) -> None:
    env = {**clean_env(), "REDIS_URL": "redis://:s3cret-pass@127.0.0.1:1/0"}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "syndicate", "status"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=30)
    assert time.monotonic() - started < 5
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach Redis at redis://:********@127.0.0.1:1/0" in lines[0]


def test_up_runs_as_many_workers_as_worker_processes(tmp_path: Path) -> None:
    config = tmp_path / "syndicate.toml"
    config.write_text('[site]\nurl = "http://127.0.0.1:1/"\ntitle = "t"\n'
                      "[worker]\nprocesses = 2\n")
    port = free_port()
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed below
    up = subprocess.Popen([sys.executable, "-m", "syndicate", "up", "--config", str(config),
                           "--port", str(port)], cwd=tmp_path, env=clean_env(), stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(base + "/healthz", timeout=2).json().get("workers") == 2,
                 timeout=60, what="two workers")
    finally:
        os.killpg(up.pid, signal.SIGINT)
        up.wait(timeout=90)
        log.close()
    text = (tmp_path / "up.log").read_text()
    assert "started worker (pid" in text and "started worker2 (pid" in text
    assert "started worker3" not in text


def test_up_whose_embedded_redis_cannot_start_says_why_and_leaves_nothing(tmp_path: Path
                                                                        ) -> None:
    """`up` starts its children while the embedded Redis starts: when the server cannot
    start, the children are stopped and the one line names the folder and the reason."""
    config = tmp_path / "syndicate.toml"
    config.write_text('[site]\nurl = "http://127.0.0.1:1/"\ntitle = "t"\n')
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "redis").write_text("a file where the server's folder goes")
    port = free_port()
    done = syndicate(tmp_path, "up", "--config", str(config), "--data", str(tmp_path / "data"),
                     "--port", str(port))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: cannot start the embedded Redis in ") and \
        str(tmp_path / "data" / "redis") in last and "FileExistsError" in last, done.stderr
    assert "Traceback" not in done.stderr
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    # Neither the web app (on its port) nor the scheduler (on its data folder) is left.
    assert "started beat (pid" in done.stderr  # they were started: so they were stopped
    assert f"--port {port}" not in ps and f"--data {tmp_path.resolve() / 'data'}" not in ps


KEEPS_A_RUNTIME = """
import sys
import click
from syndicate import cli

kept = []

@click.command()
@cli.config_option
def cmd(config_path):
    rt = cli.runtime_for(config_path)
    rt.redis.ping()  # a pooled connection, still open when the command ends
    rt.queue.poll("blog")  # and a broker connection
    kept.append(rt)
    print(rt.redis.connection_pool.connection_kwargs["path"])
    sys.exit(1)

cmd()
"""


def test_a_command_stops_the_embedded_redis_it_started(tmp_path: Path) -> None:
    """The embedded server shuts down only when the stopping client is its last: a command
    must close its own connections first, even those a reference keeps alive."""
    config = tmp_path / "syndicate.toml"
    config.write_text('[site]\nurl = "http://127.0.0.1:1/"\ntitle = "t"\n'
                      '[[sources]]\nname = "blog"\nurl = "http://127.0.0.1:1/feed"\n')
    done = subprocess.run([sys.executable, "-c", KEEPS_A_RUNTIME, "--config", str(config)],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1, done.stderr
    socket_path = done.stdout.strip()
    assert socket_path.endswith("redis.sock"), done.stdout + done.stderr
    import redis

    with pytest.raises(redis.ConnectionError):
        redis.Redis(unix_socket_path=socket_path, socket_connect_timeout=2).ping()


def test_up_without_a_config_says_what_to_do(tmp_path: Path) -> None:
    from syndicate import config as config_mod

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        cfg = config_mod.load(None)
        assert config_mod.missing(cfg) and cfg.sources == ()
        assert "syndicate init" in config_mod.warnings(cfg)[0]
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("text, env, want", [
    ("${A:-x}", {"A": ""}, "x"), ("${A:-x}", {}, "x"), ("${A:-x}", {"A": "v"}, "v"),
    ("${A-x}", {"A": ""}, ""), ("${A-x}", {}, "x"),
])
def test_defaults_behave_as_in_the_shell(text: str, env: dict[str, str], want: str) -> None:
    from syndicate.config import expand_env

    assert expand_env(text, env) == want


def test_sources_that_failed_are_polled_at_once_after_a_restart(make_runtime) -> None:
    rt, _ = make_runtime(sources=[{"name": "s", "url": "http://127.0.0.1:9/feed"}])
    rt.poll("s")  # fails: nothing listens there
    assert rt.poller.claim_due(rt.config.source("s"))  # the due time is now taken ...
    assert not rt.poller.claim_due(rt.config.source("s"))
    assert rt.on_start() == ["s"]  # ... and a restart makes it due again
    assert rt.poller.claim_due(rt.config.source("s"))


def test_backfill_dry_run_marks_what_is_already_there(make_runtime, feed_server, monkeypatch
                                                      ) -> None:
    from click.testing import CliRunner

    from syndicate import cli

    url = feed_server.put("/feed", fixture_bytes("blogger-atom.xml"))
    rt, _ = make_runtime(sources=[{"name": "blogger", "url": url, "backfill": True}],
                         targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/x",
                                   "secret": json.loads('"whsec_c3luZGljYXRlLXRlc3Qtb3V0Ym91bm'
                                                        'Qtc2VjcmV0LTE="')}])
    result = rt.poll("blogger")
    rt.ledger.set_state(result.new[0], "hook", "delivered", allowed_from=("pending",))
    monkeypatch.setattr(cli, "runtime_for", lambda _p: rt)
    out = CliRunner().invoke(cli.main, ["backfill", "blogger", "--dry-run"]).output
    assert "hook (already delivered)" in out and "hook (already pending)" in out


def test_an_empty_feed_is_dated_when_the_service_first_started(make_runtime) -> None:
    from datetime import UTC, datetime

    from lxml import etree

    from syndicate.web import create_app

    rt, _ = make_runtime()
    started = rt.store.started()
    doc = etree.fromstring(create_app(rt).test_client().get("/feed.atom").data)
    updated = datetime.fromisoformat(doc.findtext("{http://www.w3.org/2005/Atom}updated"))
    assert updated.year == datetime.now(UTC).year
    assert abs(updated.timestamp() - started) < 1  # when the installation first served


def test_init_knows_every_first_target() -> None:
    from syndicate import cli, starter

    assert set(cli.INIT_TARGETS) == set(starter.TARGETS)


def test_the_readmes_webhook_snippet_works_as_written(make_runtime) -> None:
    """Run the README's shell snippet, twice in the same second, in a fresh shell: both hooks
    are signed right and neither is taken for the other (unique ids)."""
    import re
    import shutil
    import threading

    from werkzeug.serving import make_server

    from syndicate.web import create_app

    from .conftest import WEBHOOK_SECRET

    if not all(shutil.which(t) for t in ("bash", "openssl", "xxd", "curl", "base64")):
        pytest.skip("the snippet needs bash, openssl, xxd, curl and base64")
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    snippet = re.search(r"To sign a publish webhook from a shell.*?```sh\n(.*?)```", readme,
                        re.S).group(1)
    rt, q = make_runtime(sources=[{"name": "blogger", "url": "http://127.0.0.1:9/feed"}])
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(rt), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        script = snippet.replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}")
        env = {"PATH": os.environ["PATH"], "SYNDICATE_WEBHOOK_SECRET": WEBHOOK_SECRET}
        for _ in range(2):
            done = subprocess.run(["bash", "-c", script], env=env, capture_output=True,
                                  text=True, timeout=30)
            assert '"status":"accepted"' in done.stdout.replace(" ", ""), done.stdout + done.stderr
    finally:
        server.shutdown()
    assert q.polls == ["blogger", "blogger"]
