"""The one watchdog thread behind every request's deadline."""

from __future__ import annotations

import socket
import threading
import time

from syndicate.guard import Deadline


def test_deadlines_are_cut_in_time_order_and_ended_ones_never() -> None:
    a, b = socket.socketpair()
    try:
        long = Deadline(30).__enter__()
        with Deadline(0.2) as short:
            short.add(a)
            started = time.monotonic()
            assert a.recv(1) == b""  # blocked until the deadline shut the socket down
            assert short.expired.is_set() and time.monotonic() - started < 2
        ended = Deadline(0.1)
        with ended:
            pass
        time.sleep(0.3)
        assert not ended.expired.is_set() and not long.expired.is_set()
        long.__exit__()
    finally:
        a.close()
        b.close()


def test_many_threads_each_get_their_own() -> None:
    cut: list[bool] = []

    def one(i: int) -> None:
        with Deadline(0.05 if i % 2 else 10) as d:
            time.sleep(0.2)
            cut.append(d.expired.is_set() == bool(i % 2))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cut == [True] * 40


def test_a_forked_child_has_its_own_watchdog() -> None:
    """A prefork pool forks after the parent may have used (and locked) the watchdog."""
    import os

    with Deadline(30):
        pass  # the parent's thread is running
    pid = os.fork()
    if pid == 0:  # the child: a deadline must still cut, with no thread inherited
        code = 1
        try:
            with Deadline(0.1) as d:
                time.sleep(0.5)
                code = 0 if d.expired.is_set() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
