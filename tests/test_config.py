"""Config: env substitution, and errors that name the key and what was expected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from syndicate import config as config_mod
from syndicate.errors import ConfigError
from syndicate.targets import check

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "syndicate.example.toml"


def parse(data: dict[str, object], env: dict[str, str] | None = None) -> config_mod.Config:
    return check(config_mod.parse(data, env=env or {}))


def test_example_config_loads() -> None:
    cfg = config_mod.load(EXAMPLE)
    assert [s.name for s in cfg.sources] == ["blogger", "wordpress"]
    assert cfg.target("newsletter").options["port"] == 8025  # type: ignore[union-attr]
    assert cfg.webhook.secret is None  # no demo secret: unset, the publish webhook is off


def test_env_substitution() -> None:
    cfg = parse({"webhook": {"secret": "${S}"},
                 "targets": [{"name": "d", "kind": "devto", "api_key": "${KEY}",
                              "base_url": "http://127.0.0.1:${PORT:-9999}"}]},
                env={"S": "whsec_c3luZGljYXRlLXRlc3Qtb3V0Ym91bmQtc2VjcmV0LTE=", "KEY": "k1"})
    assert cfg.webhook.secret == b"syndicate-test-outbound-secret-1"
    assert cfg.targets[0].options["api_key"] == "k1"
    assert cfg.targets[0].options["base_url"] == "http://127.0.0.1:9999"


def test_missing_env_in_an_enabled_target_names_key_and_variable() -> None:
    with pytest.raises(ConfigError) as exc:
        parse({"targets": [{"name": "devto", "kind": "devto", "api_key": "${DEVTO_API_KEY}"}]})
    assert str(exc.value) == ("config: targets[devto].api_key: environment variable "
                              "DEVTO_API_KEY is not set")
    # A disabled target may leave it unset.
    cfg = parse({"targets": [{"name": "devto", "kind": "devto", "enabled": False,
                              "api_key": "${DEVTO_API_KEY}"}]})
    assert cfg.enabled_targets == []


@pytest.mark.parametrize(("data", "key", "words"), [
    ({"sources": [{"name": "b", "url": "ftp://x"}]}, "sources[b].url", "http(s) URL"),
    ({"sources": [{"name": "b", "url": "http://x", "poll_interval": "soon"}]},
     "sources[b].poll_interval", "duration"),
    ({"sources": [{"name": "b", "url": "http://x"}, {"name": "b", "url": "http://y"}]},
     "sources[1].name", "used twice"),
    ({"targets": [{"name": "t", "kind": "myspace"}]}, "targets[t].kind", "unknown kind"),
    ({"targets": [{"name": "t", "kind": "smtp", "host": "h", "from": "a@b.example",
                   "to": ["c@d.example"], "port": "twenty"}]}, "targets[t].port", "expected int"),
    ({"targets": [{"name": "t", "kind": "smtp", "host": "h", "from": "a@b.example",
                   "to": ["c@d.example"], "security": "ssl"}]}, "targets[t].security",
     "one of"),
    ({"targets": [{"name": "t", "kind": "smtp", "host": "h", "from": "a@b.example"}]},
     "targets[t].to", "'to'"),
    ({"targets": [{"name": "t", "kind": "devto", "api_key": "k", "colour": "red"}]},
     "targets[t].colour", "unknown option"),
    ({"site": {"feed_size": 0}}, "site.feed_size", "at least 1"),
    ({"targets": [{"name": "t", "kind": "devto", "api_key": "k", "per_task": 0}]},
     "targets[t].per_task", "at least 1"),
    ({"webhook": {"secret": "whsec_!!"}}, "webhook.secret", "base64"),
    ({"sauces": []}, "sauces", "unknown key"),
])
def test_errors_name_the_key(data: dict[str, object], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse(data)
    assert exc.value.key == key and words in str(exc.value)


def test_per_task_is_the_adapters_unless_set() -> None:
    mail = {"kind": "smtp", "host": "h", "from": "a@b.example", "to": ["c@d.example"]}
    cfg = parse({"targets": [{"name": "a", **mail}, {"name": "b", **mail, "per_task": 1},
                             {"name": "c", "kind": "devto", "api_key": "k"}]})
    assert [t.per_task for t in cfg.targets] == [None, 1, None]
    assert "per_task" not in cfg.targets[1].options


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("250ms", 0.25),
                                               (45, 45), ("2d", 172800)])
def test_durations(text: object, seconds: float) -> None:
    assert config_mod.parse_duration(text, "k") == seconds


def test_cli_stops_on_a_wrong_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[targets]]\nname = "devto"\nkind = "devto"\napi_key = "${NOPE_KEY}"\n')
    proc = subprocess.run([sys.executable, "-m", "syndicate", "status", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "targets[devto].api_key: environment variable NOPE_KEY is not set" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "syndicate", "up", "--config",
                           str(tmp_path / "missing.toml")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode != 0 and "config file not found" in proc.stderr


@pytest.mark.parametrize(("value", "want"), [
    (None, 1), (3, 3), ("2", 2), ("auto", 2 * (os.cpu_count() or 1)),
    ("AUTO", 2 * (os.cpu_count() or 1))])
def test_worker_processes(value: object, want: int) -> None:
    worker = {} if value is None else {"processes": value}
    cfg = parse({"site": {"title": "t", "url": "https://example.org/"}, "worker": worker}, env={})
    assert cfg.worker.processes == want


@pytest.mark.parametrize("value", [0, "many", 1.5, True])
def test_worker_processes_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"worker\.processes"):
        parse({"site": {"title": "t", "url": "https://example.org/"},
               "worker": {"processes": value}}, env={})


def test_adapters_load_when_a_config_names_their_kind() -> None:
    """Checking a config imports the adapters it names and no other: every part of `syndicate up`
    starts with that check, and the thirteen adapters bring their own libraries."""
    code = (
        "import json, sys\n"
        "from syndicate import targets\n"
        "from syndicate.config import parse\n"
        "cfg = parse({'site': {'title': 'T', 'url': 'https://example.org/'},\n"
        "             'targets': [{'name': 'mail', 'kind': 'smtp', 'host': '127.0.0.1',\n"
        "                          'from': 'a@example.org', 'to': ['b@example.org']}]})\n"
        "targets.check(cfg)\n"
        "print(json.dumps([m.rsplit('.', 1)[1] for m in sys.modules\n"
        "                  if m.startswith('syndicate.targets.')]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "smtp" in loaded
    assert not loaded & {"bluesky", "mastodon", "ghost", "wordpress", "hashnode", "devto"}


def test_every_adapter_is_registered_under_its_kind() -> None:
    from syndicate.targets import ADAPTERS, Target, registry

    assert len(registry) == len(ADAPTERS) == 13
    for kind in ADAPTERS:
        cls = registry[kind]
        assert issubclass(cls, Target) and cls.kind == kind
    assert "nope" not in registry and registry.get("nope") is None
