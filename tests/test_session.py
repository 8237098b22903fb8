"""The HTTP session reads proxy and CA settings from the environment once, as requests would."""

from __future__ import annotations

import base64

import requests

from syndicate.session import Session

from .fakes.http import LoopbackServer, Reply, Request


def test_proxies_per_origin_read_once(monkeypatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    s = Session()
    assert s.environ_proxies("http://feeds.example/a.xml") == {"http": "http://proxy.example:3128"}
    assert s.environ_proxies("http://127.0.0.1:8080/feed") == {}  # NO_PROXY honoured
    # Read once per origin: a running process keeps what it started with.
    monkeypatch.setenv("HTTP_PROXY", "http://other.example:3128")
    assert s.environ_proxies("http://feeds.example/b.xml") == {"http": "http://proxy.example:3128"}
    assert Session().environ_proxies("http://feeds.example/") == {
        "http": "http://other.example:3128"}


def test_ca_bundle_applies_to_every_send(monkeypatch, tmp_path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    s = Session()
    assert s.verify == str(bundle)
    settings = s.merge_environment_settings("https://api.example/", {}, None, True, None)
    assert settings["verify"] == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert Session().verify is True


class _Cookies(LoopbackServer):
    def handle(self, request: Request) -> Reply:
        return Reply(200, b"ok", headers={"Set-Cookie": f"track={request.path[1:]}; Path=/"})


def test_a_sites_cookies_are_not_kept() -> None:
    """Nothing sends cookies back, so a feed's Set-Cookie headers must not pile up in memory
    over months of polls."""
    server = _Cookies().start()
    try:
        s = Session()
        for n in range(3):
            for redirects in (False, True):
                resp = s.get(f"{server.url}/{n}", timeout=5, allow_redirects=redirects)
                assert resp.status_code == 200 and resp.text == "ok"
                assert resp.headers["Set-Cookie"].startswith("track=")  # seen, not stored
        assert len(s.cookies) == 0
    finally:
        server.stop()


def test_pools_are_remembered_no_more_than_the_manager_keeps() -> None:
    """The adapter remembers each origin's pool, but no more of them than the pool manager
    keeps, so no more sockets stay open; a closed pool is not used again."""
    first, second = _Cookies().start(), _Cookies().start()
    try:
        s = Session()
        adapter = s.get_adapter(first.url)
        adapter.init_poolmanager(1, 1)  # room for one origin: each new one drops the last
        for _ in range(2):
            for server in (first, second):
                assert s.get(server.url + "/x", timeout=5, allow_redirects=False).text == "ok"
                assert len(adapter._pools) == 1
        pool = adapter.get_connection_with_tls_context(  # the one the sends above used
            s.prepare_request(requests.Request("GET", second.url)), s.verify)
        assert pool is adapter.get_connection_with_tls_context(
            s.prepare_request(requests.Request("GET", second.url + "/other")), s.verify)
        adapter.poolmanager.clear()  # the manager drops it, and closes it as urllib3 1.x does
        pool.close()
        assert s.get(second.url + "/y", timeout=5, allow_redirects=False).text == "ok"
        pool = adapter._pools[next(iter(adapter._pools))]
        s.close()  # closes every pool
        assert pool.pool is None
        assert s.get(second.url + "/z", timeout=5, allow_redirects=False).text == "ok"
    finally:
        first.stop()
        second.stop()


# Requests as adapters build them: JSON, a form, bytes, query parameters in each shape
# requests takes, credentials in the URL, a host that is not ASCII, a lower-case method.
SHAPES = [
    dict(method="POST", url="http://127.0.0.1:9/in", json={"title": "Ünïcode", "n": 1}),
    dict(method="POST", url="http://127.0.0.1:9/in", data={"a": "1", "b": "ü"}),
    dict(method="PUT", url="http://127.0.0.1:9/posts/7", data=b"\x00raw",
         headers={"Content-Type": "application/octet-stream"}),
    dict(method="get", url="http://127.0.0.1:9/q?x=1", params={"page": 2, "q": "a b"}),
    dict(method="GET", url="http://127.0.0.1:9/q", params=[("tag", "a"), ("tag", "b")]),
    dict(method="GET", url="http://127.0.0.1:9/q", params={"tag": ["a", "b"]}),
    dict(method="POST", url="http://user:p%40ss@127.0.0.1:9/in", json={}),
    dict(method="GET", url="http://bücher.example/feed"),
]


def test_a_targets_request_is_prepared_as_requests_prepares_it(make_runtime) -> None:
    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    rt, _ = make_runtime(targets=[{"name": "hook", "kind": "webhook",
                                   "url": "http://127.0.0.1:9/in", "secret": secret}])
    adapter = rt.dispatcher.target("hook")
    for shape in SHAPES:
        for _ in range(2):  # the second time, the URL comes from the remembered ones
            ours = adapter.prepare(requests.Request(**shape))  # type: ignore[arg-type]
            theirs = requests.Request(**shape)  # type: ignore[arg-type]
            theirs.headers = dict(ours.headers)  # the User-Agent (and auth) ours added
            want = theirs.prepare()
            assert (ours.method, ours.url, ours.body) == (want.method, want.url, want.body)
            assert dict(ours.headers) == dict(want.headers), shape


def test_a_bad_url_is_refused_every_time() -> None:
    import pytest

    from syndicate.session import prepared_url

    for _ in range(2):
        with pytest.raises(requests.exceptions.MissingSchema):
            prepared_url("no-scheme/feed")
