"""The fault suite at CI size: every scenario ends with lost = 0 and dup = 0 (unknown counted),
and its control run, with the protection switched off, shows the losses or duplicates.
`python -m bench.faults` runs the same scenarios at full size."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bench.faults import controls, scenarios
from bench.faults.harness import Result
from syndicate.web import create_app

from .conftest import OUTBOUND_SECRET, fixture_bytes
from .test_web import signed

# Deliveries must still be running when the first fault lands (a second in): at the quick
# size a slower target keeps them in flight long enough for the kills to matter.
SIZES = {"worker_kill": dict(entries=400, every=2.0, latency=0.15), "visibility": dict(entries=30),
         "redis_kill": dict(entries=120, every=3.0), "commit_then_fail": dict(entries=100),
         "flaky_target": dict(entries=100), "two_schedulers": dict(seconds=8)}


def run(name: str, tmp_path: Path, redis_url: str, control: bool) -> Result:
    result: Result = scenarios.SCENARIOS[name](tmp_path, redis_url, control=control,
                                               **SIZES[name])  # type: ignore[operator]
    print(f"\n{result}")
    return result


@pytest.fixture
def tcp_redis(redis_url: str) -> str:
    if redis_url.startswith("unix://"):
        pytest.skip("the fault scenarios run their workers against a TCP Redis")
    return redis_url


@pytest.mark.parametrize("name", list(SIZES))
def test_scenario_loses_and_duplicates_nothing(name: str, tmp_path: Path, tcp_redis: str) -> None:
    result = run(name, tmp_path, tcp_redis, control=False)
    assert result.lost == 0 and result.dup == 0, result
    assert result.faults > 0, "no fault was injected: the scenario proved nothing"


@pytest.mark.parametrize("name", list(SIZES))
def test_control_run_shows_the_failure(name: str, tmp_path: Path, tcp_redis: str) -> None:
    result = run(name, tmp_path, tcp_redis, control=True)
    assert result.lost > 0 or result.dup > 0, result


@pytest.mark.parametrize("control", [False, True])
def test_webhook_storm(make_runtime, control: bool, monkeypatch) -> None:
    """The same publish webhook 20 times at once, 200 times over: one poll each."""
    from werkzeug.serving import make_server

    from .fakes.smtp import free_port

    if control:
        controls.install(["no_webhook_dedupe"], monkeypatch.setattr)
    rt, q = make_runtime(sources=[{"name": "blogger", "url": "http://127.0.0.1:9/feed"}])
    port = free_port()
    server = make_server("127.0.0.1", port, create_app(rt), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    import requests

    rounds, burst = 200, 20
    try:
        for r in range(rounds):
            body, hdrs = signed({"source": "blogger"}, msg_id=f"msg_storm_{r}")
            barrier = threading.Barrier(burst)
            codes: list[int] = []

            def send(barrier: threading.Barrier, codes: list[int], body: bytes,
                     hdrs: dict[str, str]) -> None:
                barrier.wait()
                codes.append(requests.post(f"http://127.0.0.1:{port}/hooks/publish", data=body,
                                           headers=hdrs, timeout=10).status_code)

            threads = [threading.Thread(target=send, args=(barrier, codes, body, hdrs))
                       for _ in range(burst)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert codes == [202] * burst
    finally:
        server.shutdown()
    if control:
        assert len(q.polls) > rounds
    else:
        assert len(q.polls) == rounds  # one poll per webhook, however often it came


CHURN = [
    ("guid changed", lambda b: b.replace(b"post-4410958261731650029", b"post-X4410958261731650029")),
    ("republished with new dates", lambda b: b.replace(b"2025-12-01T19:02:00.000-08:00",
                                                       b"2026-01-05T10:00:00.000-08:00")),
    ("relative guids", lambda b: b.replace(b"<id>tag:blogger.com,1999:blog-7301422960115572211.post-",
                                           b"<id>/posts/")),
    ("no guids", lambda b: __import__("re").sub(rb"<id>tag:blogger[^<]*</id>", b"", b)),
]


@pytest.mark.parametrize("control", [False, True])
def test_feed_churn(make_runtime, feed_server, control: bool, monkeypatch) -> None:
    """Guids changed, posts republished with new dates, relative guids, no guids: nothing new."""
    if control:
        controls.install(["guid_only_identity"], monkeypatch.setattr)
    url = feed_server.put("/feed", fixture_bytes("blogger-atom.xml"))
    rt, q = make_runtime(sources=[{"name": "blogger", "url": url, "flood_limit": 50}],
                         targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/x", "secret": OUTBOUND_SECRET}])
    rt.poll("blogger")
    body = fixture_bytes("blogger-atom.xml")
    for _name, change in CHURN:
        body = change(body)
        feed_server.put("/feed", body)
        rt.poll("blogger")
    if control:
        assert q.deliveries, "identity by guid alone sends churned posts again"
    else:
        assert q.deliveries == [] and rt.store.count() == 3


def test_no_protection_switch_is_left_in_the_product() -> None:
    """The controls live in bench/faults/controls.py; nothing the product ships can turn a
    protection off."""
    root = Path(__file__).resolve().parent.parent
    for folder in ("syndicate", "workers"):
        for path in (root / folder).rglob("*.py"):
            text = path.read_text()
            assert "unsafe" not in text and "SYNDICATE_UNSAFE" not in text, path
    with pytest.raises(ValueError, match="unknown control"):
        controls.install(["no_such_thing"])
