"""Lua scripts on each thread's own connection (`syndicate.scripts`), on a real Redis."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from syndicate.scripts import ScriptClient, ThreadScript, connect

SET = "redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1]"


def here(client: ScriptClient) -> int:
    """The Redis client id of the calling thread's own connection (what its scripts use)."""
    conn = client._threads().get()
    conn.send_command("CLIENT", "ID")  # type: ignore[no-untyped-call]
    return int(conn.read_response())


@pytest.fixture
def client(redis_url: str) -> Iterator[ScriptClient]:
    c = connect(redis_url)
    assert isinstance(c, ScriptClient)
    yield c
    c.close()


def _gone(r, ids: set[int]) -> bool:  # type: ignore[no-untyped-def]
    """Whether the server has seen these connections close: it handles a hang-up and another
    client's CLIENT LIST in either order, so a moment is allowed."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not ids & {int(c["id"]) for c in r.client_list()}:
            return True
        time.sleep(0.02)
    return False


def _fresh(client: ScriptClient) -> ThreadScript:
    # A script this server has never seen: its first EVALSHA answers NOSCRIPT.
    return client.register_script(f"-- {uuid.uuid4().hex}\n{SET}")


def test_each_thread_runs_scripts_on_its_own_connection(client: ScriptClient, prefix: str
                                                        ) -> None:
    put = _fresh(client)
    key = f"{prefix}:who"
    assert put(keys=[key], args=["a"]) == b"a"  # NOSCRIPT, loaded
    mine = here(client)
    assert put(keys=[key], args=["a"]) == b"a"
    assert here(client) == mine
    other: list[int] = []

    def elsewhere() -> None:
        put(keys=[key], args=["b"])
        other.append(here(client))

    t = threading.Thread(target=elsewhere)
    t.start()
    t.join()
    assert other and other[0] != mine
    assert client.get(key) == b"b"


def test_a_killed_connection_is_replaced_and_the_script_still_runs(
        client: ScriptClient, prefix: str, r) -> None:  # type: ignore[no-untyped-def]
    put = client.register_script(SET)
    key = f"{prefix}:who"
    put(keys=[key], args=["a"])
    first = here(client)
    r.client_kill_filter(_id=first)  # as a Redis restart would end it
    assert put(keys=[key], args=["b"]) == b"b"
    assert client.get(key) == b"b"
    assert here(client) != first


def test_a_pipeline_still_runs_registered_scripts(client: ScriptClient, prefix: str) -> None:
    who = client.register_script(SET)
    pipe = client.pipeline(transaction=False)
    who(keys=[f"{prefix}:p1"], args=["1"], client=pipe)
    who(keys=[f"{prefix}:p2"], args=["2"], client=pipe)
    assert len(pipe.execute()) == 2
    assert client.mget(f"{prefix}:p1", f"{prefix}:p2") == [b"1", b"2"]


def test_a_script_error_is_raised_and_the_connection_kept(client: ScriptClient,
                                                          prefix: str) -> None:
    import redis

    put = client.register_script(SET)
    broken = client.register_script("return redis.call('NOSUCHCOMMAND')")
    put(keys=[f"{prefix}:k"], args=["x"])
    before = here(client)
    with pytest.raises(redis.ResponseError):
        broken()
    assert put(keys=[f"{prefix}:k"], args=["y"]) == b"y"
    assert here(client) == before


def test_close_closes_every_threads_connection(redis_url: str, prefix: str, r) -> None:  # type: ignore[no-untyped-def]
    client = connect(redis_url)
    assert isinstance(client, ScriptClient)
    put = client.register_script(SET)
    ids: list[int] = []
    ready, done = threading.Barrier(4), threading.Event()

    def run() -> None:
        put(keys=[f"{prefix}:c"], args=["1"])
        ids.append(here(client))
        ready.wait()
        done.wait(10)  # alive while the client closes: a thread that ended is closed anyway

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    ready.wait()
    try:
        assert set(ids) <= {int(c["id"]) for c in r.client_list()}
        client.close()
        assert _gone(r, set(ids))
    finally:
        done.set()
        for t in threads:
            t.join()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork")
def test_a_forked_child_opens_its_own_connection(client: ScriptClient, prefix: str) -> None:
    put = client.register_script(SET)
    put(keys=[f"{prefix}:f"], args=["parent"])
    parent = here(client)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            put(keys=[f"{prefix}:f"], args=["child"])
            os.write(write, str(here(client)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = int(os.read(read, 64) or b"0")
    os.close(read)
    assert child and child != parent
    assert client.get(f"{prefix}:f") == b"child"
    put(keys=[f"{prefix}:f"], args=["again"])
    assert here(client) == parent  # the parent's connection is untouched


def test_a_thread_that_ended_does_not_keep_its_connection(client: ScriptClient, prefix: str,
                                                          r) -> None:  # type: ignore[no-untyped-def]
    put = client.register_script(SET)
    ended: list[int] = []

    def run() -> None:
        put(keys=[f"{prefix}:t"], args=["1"])
        ended.append(here(client))

    for _ in range(3):  # threads that come and go, as a pool's would
        t = threading.Thread(target=run)
        t.start()
        t.join()
    put(keys=[f"{prefix}:t"], args=["2"])  # this thread opens its own: the ended ones close
    assert len(ended) == 3 and _gone(r, set(ended))
    assert here(client) in {int(c["id"]) for c in r.client_list()}


@pytest.mark.parametrize(("value", "stored"), [("é", "é".encode()), (b"\x00b", b"\x00b"), (7, b"7"),
                                               (0.1, b"0.1"), (1733400000.25, b"1733400000.25")])
def test_arguments_are_written_as_redis_py_writes_them(client: ScriptClient, prefix: str,
                                                       value: object, stored: bytes) -> None:
    put = client.register_script(SET)
    assert put(keys=[f"{prefix}:a"], args=[value]) == stored
    assert client.get(f"{prefix}:a") == stored


@pytest.mark.parametrize("value", [None, True])
def test_an_argument_redis_cannot_take_is_refused_as_redis_py_refuses_it(
        client: ScriptClient, prefix: str, value: object) -> None:
    import redis

    put = client.register_script(SET)
    with pytest.raises(redis.DataError):
        put(keys=[f"{prefix}:a"], args=[value])
    assert put(keys=[f"{prefix}:a"], args=["ok"]) == b"ok"  # the connection is still fine
