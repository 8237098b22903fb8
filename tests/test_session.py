"""The HTTP session reads proxy and CA settings from the environment once, as requests would."""

from __future__ import annotations

from syndicate.session import Session


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
