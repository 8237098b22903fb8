"""Logs: one line per event with its fields, secrets masked everywhere in the line."""

from __future__ import annotations

import json
import logging

import pytest

from syndicate import config as config_mod
from syndicate import logs
from syndicate.targets import check, secrets


@pytest.fixture(autouse=True)
def restore_logging():
    """logs.setup replaces the root handlers; put pytest's back so later output is not lost."""
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield
    root.handlers[:] = saved
    root.setLevel(level)


def test_logfmt_and_masking(capsys) -> None:
    logs.setup("INFO", "logfmt")
    cfg = config_mod.parse({"webhook": {"secret": "whsec_c2VjcmV0LXdlYmhvb2stZm9yLXRoZS1sb2ctdGVzdHM="},
                            "targets": [{"name": "d", "kind": "devto", "api_key": "devto-SECRET-1"}]},
                           env={})
    logs.mask(secrets(check(cfg)))
    log = logging.getLogger("syndicate.test")
    log.info("delivered %s", "e1", extra={"event": "delivery.outcome", "target": "devto",
                                          "state": "delivered", "note": "key devto-SECRET-1"})
    try:
        raise RuntimeError("refused key devto-SECRET-1 and secret-webhook-for-the-log-tests")
    except RuntimeError:
        log.exception("boom with devto-SECRET-1")
    err = capsys.readouterr().err
    first, second = err.strip().split("\n", 1)
    assert "level=info logger=syndicate.test event=delivery.outcome target=devto " \
           "state=delivered" in first
    assert 'msg="delivered e1"' in first and 'note="key ********"' in first
    assert "devto-SECRET-1" not in err and "secret-webhook-for-the-log-tests" not in err
    assert "level=error" in second and "RuntimeError" in second


def test_json_lines(capsys) -> None:
    logs.setup("INFO", "json")
    logging.getLogger("syndicate.poll").info("poll blogger", extra={"event": "poll", "new": 2})
    doc = json.loads(capsys.readouterr().err.strip())
    assert doc["event"] == "poll" and doc["new"] == 2 and doc["msg"] == "poll blogger"
