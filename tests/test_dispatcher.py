"""One delivery attempt end to end: ledger, adapter and a loopback platform, no Celery."""

from __future__ import annotations

import time

from syndicate.entry import Entry

from .fakes.devto import API_KEY
from .fakes.http import Reply

LONG = "<p>" + " ".join(["Order is kept only while energy flows in."] * 10) + "</p>"


def devto_target(server, **kw):
    return {"name": "devto", "kind": "devto", "api_key": API_KEY, "base_url": server.url,
            "published": True, "timeout": "2s", **kw}


def smtp_target(server, **kw):
    return {"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": server.port,
            "security": "none", "from": "Sanjay <posts@home.example>",
            "to": ["reader@home.example"], "timeout": "2s", **kw}


def new_entry(rt, n: int = 1, **kw) -> str:
    e = Entry(source="blogger", guid=f"tag:blogger.com,1999:blog-1.post-{n}",
              link=f"https://mind.blogspot.example/2025/12/post-{n}.html",
              title=f"Post {n}", content_html=LONG, published=time.time(),
              categories=["AI", "Machine Learning", "Philosophy", "x", "y"], **kw)
    eid, status = rt.store.upsert(e)
    assert status == "new"
    rt.dispatcher.fan_out(eid)
    return eid


def run(rt, eid: str, target: str, *, until: str = "delivered", tries: int = 6):
    """Drive attempts as the reconciler would, ignoring backoff waits."""
    for _ in range(tries):
        outcome = rt.dispatcher.deliver(eid, target)
        if outcome.state in (until, "dead", "unknown"):
            return outcome
        r = rt.redis
        r.hset(rt.keys.delivery(eid, target), "next_at", 0)
    return outcome


def test_401_marks_the_target_broken_and_its_deliveries_wait(make_runtime, devto, smtp) -> None:
    rt, _ = make_runtime(targets=[devto_target(devto, api_key="wrong"), smtp_target(smtp)])
    first, second = new_entry(rt, 1), new_entry(rt, 2)
    out = rt.dispatcher.deliver(first, "devto")
    assert out.state == "failed" and "unauthorized" in out.error
    d = rt.ledger.get(first, "devto")
    assert d.last_error.startswith("target broken: credentials rejected by dev.to: unauthorized")
    assert "wrong" not in d.last_error
    assert d.attempts == 0 and d.next_at > time.time() + 600  # waits; no attempt spent
    calls = devto.posts_seen
    # The next delivery to the broken target waits without a request; the others go on.
    assert rt.dispatcher.deliver(second, "devto").state == "waiting"
    assert devto.posts_seen == calls
    out = rt.dispatcher.deliver(second, "mail")
    assert out.state == "delivered", out
    # A fixed key (a new config) clears the mark, and the deliveries go through.
    fixed, _ = make_runtime(targets=[devto_target(devto), smtp_target(smtp)])
    for eid in (first, second):
        fixed.redis.hset(fixed.keys.delivery(eid, "devto"), "next_at", 0)
        out = fixed.dispatcher.deliver(eid, "devto")
        assert out.state == "delivered", out
    assert not fixed.redis.exists(fixed.keys.target("devto"))

def test_broken_target_is_rechecked_when_due(make_runtime, devto) -> None:
    """The claim itself sees the mark: no attempt before the recheck, one at it, and a
    success clears the mark."""
    rt, _ = make_runtime(targets=[devto_target(devto)])
    eid = new_entry(rt)
    rt.dispatcher._mark_broken(rt.dispatcher.target("devto"), "HTTP 401 from dev.to")
    out = rt.dispatcher.deliver(eid, "devto")
    assert out.state == "waiting" and out.retry_in and out.retry_in > 600
    assert rt.ledger.get(eid, "devto").attempts == 0 and devto.posts_seen == 0
    rt.redis.hset(rt.keys.target("devto"), "recheck_at", 0)
    rt.redis.hset(rt.keys.delivery(eid, "devto"), "next_at", 0)
    assert rt.dispatcher.deliver(eid, "devto").state == "delivered"
    assert not rt.redis.exists(rt.keys.target("devto"))



def test_target_down_is_retried_not_lost(make_runtime) -> None:
    rt, _ = make_runtime(targets=[{"name": "devto", "kind": "devto", "api_key": "k",
                                   "base_url": "http://127.0.0.1:9", "timeout": "1s"}])
    eid = new_entry(rt)
    out = rt.dispatcher.deliver(eid, "devto")
    assert out.state == "failed" and "cannot connect" in out.error


def test_gives_up_after_max_attempts(make_runtime, devto) -> None:
    rt, _ = make_runtime(targets=[devto_target(devto, max_attempts=2)])
    eid = new_entry(rt)
    devto.faults += [Reply(503, {"error": "down", "status": 503})] * 2
    out = run(rt, eid, "devto")
    assert out.state == "dead" and "gave up after 2 attempts" in out.error


def test_reconciler_finds_what_a_crash_left(make_runtime, devto) -> None:
    rt, q = make_runtime(targets=[devto_target(devto)])
    e = Entry(source="b", guid="g-crash", link="https://x.example/crash", title="Crash",
              content_html=LONG, published=time.time())
    eid, _ = rt.store.upsert(e, now=time.time() - 120)  # stored, then the poller died
    assert q.deliveries == []
    rt.dispatcher.reconcile()
    assert rt.ledger.get(eid, "devto").state == "pending"
    rt.dispatcher.reconcile(now=time.time() + 60)  # the wake-up call was lost too
    assert (eid, "devto") in q.deliveries


def test_delay_holds_the_first_attempt(make_runtime, devto) -> None:
    rt, q = make_runtime(targets=[devto_target(devto, delay="10m")])
    eid = new_entry(rt)
    assert q.deliveries == []  # nobody is woken before the delay is over
    d = rt.ledger.get(eid, "devto")
    assert d.next_at >= time.time() + 590
    assert rt.dispatcher.deliver(eid, "devto").state == "early"
    assert devto.requests_seen == 0
    rt.dispatcher.reconcile(now=time.time() + 601)
    assert q.deliveries == [(eid, "devto")]


def stored(rt, n: int) -> str:
    e = Entry(source="blogger", guid=f"tag:blogger.com,1999:blog-1.post-{n}",
              link=f"https://mind.blogspot.example/2025/12/post-{n}.html",
              title=f"Post {n}", content_html=LONG, published=time.time() + n)
    eid, status = rt.store.upsert(e)
    assert status == "new"
    return eid


def test_a_poll_of_several_entries_wakes_email_in_runs(make_runtime, devto, smtp) -> None:
    """Email goes ten entries to a task, an HTTP platform one; `per_task` sets either."""
    from syndicate.ledger import member

    rt, q = make_runtime(targets=[devto_target(devto), smtp_target(smtp),
                                  smtp_target(smtp, name="few", per_task=3)])
    ids = [stored(rt, n) for n in range(12)]
    assert rt.dispatcher.fan_out_many(ids) == 36
    by_target: dict[str, list[list[str]]] = {}
    for run_ in q.runs:
        (target,) = {t for _, t in run_}
        by_target.setdefault(target, []).append([e for e, _ in run_])
    assert by_target["devto"] == [[e] for e in ids]
    assert by_target["mail"] == [ids[:10], ids[10:]]
    assert by_target["few"] == [ids[0:3], ids[3:6], ids[6:9], ids[9:12]]
    # Oldest first across targets: no run starts with an entry older than the one before.
    starts = [ids.index(run_[0][0]) for run_ in q.runs]
    assert starts == sorted(starts)
    # A record further down a run is re-sent by the reconciler only after the ones before it
    # had their time (2 s timeout each), not while its run is still being made.
    due = [rt.redis.zscore(rt.keys.due, member(e, "few")) for e in ids[:3]]
    assert due[1] - due[0] == due[2] - due[1] == 2.0
    # The run's deliveries, each its own claim: all made, each once, however often it runs.
    first_run = [(e, "mail") for e in by_target["mail"][0]]
    outcomes = rt.dispatcher.deliver_run(first_run)
    assert [o.state for o in outcomes] == ["delivered"] * 10 and all(o.attempted for o in outcomes)
    again = rt.dispatcher.deliver_run(first_run)  # the message redelivered after a crash
    assert not any(o.attempted for o in again)
    assert len(smtp.messages) == 10


def test_one_failing_delivery_does_not_stop_its_run(make_runtime, smtp, monkeypatch) -> None:
    rt, q = make_runtime(targets=[smtp_target(smtp)])
    ids = [stored(rt, n) for n in range(3)]
    rt.dispatcher.fan_out_many(ids)
    (run_,) = q.runs
    real = rt.dispatcher.deliver

    def deliver(entry_id: str, target: str, **kw):
        if entry_id == ids[1]:
            raise RuntimeError("the store answered nonsense")
        return real(entry_id, target, **kw)

    monkeypatch.setattr(rt.dispatcher, "deliver", deliver)
    outcomes = rt.dispatcher.deliver_run(run_)
    assert [o.state for o in outcomes] == ["delivered", "error", "delivered"]
    assert "nonsense" in outcomes[1].error
    assert len(smtp.messages) == 2
    # The one that failed is still known and pending: the reconciler sends it again.
    assert rt.ledger.get(ids[1], "mail").state == "pending"


def test_an_entrys_platforms_share_one_task(make_runtime, devto, smtp) -> None:
    """An entry's deliveries share one task where each target has only that entry to make;
    email with several entries keeps its runs of them; a delayed target waits for the
    reconciler."""
    rt, q = make_runtime(targets=[devto_target(devto), smtp_target(smtp, name="one", per_task=1),
                                  smtp_target(smtp), devto_target(devto, name="later",
                                                                  delay="10m")])
    ids = [stored(rt, n) for n in range(3)]
    assert rt.dispatcher.fan_out_many(ids) == 12
    shared = [run_ for run_ in q.runs if run_[0][1] != "mail"]
    assert shared == [[(e, "devto"), (e, "one")] for e in ids]
    assert [run_ for run_ in q.runs if run_[0][1] == "mail"] == [[(e, "mail") for e in ids]]
    assert not [pair for pair in q.deliveries if pair[1] == "later"]
    outcomes = rt.dispatcher.deliver_run(shared[0])
    assert [o.state for o in outcomes] == ["delivered", "delivered"]
    assert not any(o.attempted for o in rt.dispatcher.deliver_run(shared[0]))  # redelivered
    assert devto.posts_seen == 1 and len(smtp.messages) == 1
    # One new entry (a publish webhook's): email has only it to make, and joins its task.
    q.runs.clear()
    (last,) = [stored(rt, 3)]
    rt.dispatcher.fan_out_many([last])
    assert q.runs == [[(last, "devto"), (last, "one"), (last, "mail")]]
    assert [o.state for o in rt.dispatcher.deliver_run(q.runs[0])] == ["delivered"] * 3
    assert devto.posts_seen == 2 and len(smtp.messages) == 3


def test_a_runs_targets_go_at_once_and_each_in_order(make_runtime, devto, smtp,
                                                     monkeypatch) -> None:
    """A slow target holds up no other target of the run; one target's entries keep their
    order; the run returns (and its task is acknowledged) only when all have ended."""
    import threading

    from syndicate.dispatcher import Outcome

    rt, _ = make_runtime(targets=[devto_target(devto), smtp_target(smtp, per_task=2)])
    quick_done = threading.Event()
    seen: list[tuple[str, str, str]] = []

    def deliver(entry_id: str, target: str, **kw):
        if target == "devto":  # the slow one: it waits until the other target has delivered
            assert quick_done.wait(5), "the run made its targets one after the other"
        seen.append((entry_id, target, threading.current_thread().name))
        if target == "mail" and entry_id == "e2":
            quick_done.set()
        return Outcome("delivered", attempted=True)

    monkeypatch.setattr(rt.dispatcher, "deliver", deliver)
    run_ = [("e1", "devto"), ("e1", "mail"), ("e2", "mail")]
    outcomes = rt.dispatcher.deliver_run(run_)
    assert [o.state for o in outcomes] == ["delivered"] * 3
    assert [(e, t) for e, t, _ in seen] == [("e1", "mail"), ("e2", "mail"), ("e1", "devto")]
    threads = {t: name for _, t, name in seen}
    assert threads["devto"] == threading.current_thread().name  # the first lane: this thread
    assert threads["mail"].startswith("syndicate-lane")


def test_lanes_in_a_forked_child_are_its_own() -> None:
    import os

    from syndicate.lanes import Lanes

    lanes = Lanes(2)
    got: list[int] = []
    lanes.submit(lambda lane: got.extend(lane), [1]).result(5)
    pid = os.fork()
    if pid == 0:  # the child: the parent's pool threads do not exist here
        code = 1
        try:
            out: list[int] = []
            lanes.submit(lambda lane: out.extend(lane), [2]).result(5)
            code = 0 if out == [2] else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert got == [1]
    lanes.close()


def test_lanes_are_sized_for_the_workers_threads_and_bounded(make_runtime, devto, smtp) -> None:
    from syndicate.lanes import LANE_MAX

    rt, _ = make_runtime(targets=[devto_target(devto), smtp_target(smtp),
                                  smtp_target(smtp, name="two"),
                                  devto_target(devto, name="later", delay="10m")])
    # Each of 4 threads: two targets besides its first (the delayed one never joins a run).
    assert rt.dispatcher.fit_lanes(4) == 8
    assert rt.dispatcher.fit_lanes(1000) == LANE_MAX
