"""Logs: one line per event, `key=value` (logfmt) or JSON, with every secret masked.

Events carry their fields in `extra` (`event`, `source`, `entry`, `target`, `state`, ...), so a
line can be read by a person and parsed by a machine. `mask` installs a filter that replaces any
configured secret (API keys, passwords, webhook secrets) wherever it would appear: in the
message, its arguments, or an exception's text.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterable

from .redact import Redactor

FORMAT_ENV = "SYNDICATE_LOG_FORMAT"
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def _fields(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _quote(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def _exception(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    if record.exc_text:  # already formatted (and masked) by MaskSecrets
        return record.exc_text
    return formatter.formatException(record.exc_info) if record.exc_info else ""


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        parts = [f"ts={ts}.{int(record.msecs):03d}Z", f"level={record.levelname.lower()}",
                 f"logger={record.name}"]
        parts += [f"{k}={_quote(v)}" for k, v in _fields(record).items()]
        parts.append(f"msg={_quote(record.getMessage())}")
        line = " ".join(parts)
        exc = _exception(self, record)
        return line + " exc=" + _quote(exc) if exc else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "level": record.levelname.lower(), "logger": record.name, **_fields(record),
            "msg": record.getMessage()}
        exc = _exception(self, record)
        if exc:
            doc["exc"] = exc
        return json.dumps(doc, ensure_ascii=False, default=str)


class MaskSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str] | Redactor) -> None:
        super().__init__()
        self.redactor = secrets if isinstance(secrets, Redactor) else Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.redactor:
            return True
        record.msg = self.redactor.redact(record.getMessage())
        record.args = None
        # Fields may be dicts or lists (Celery logs a task's `data` as a dict): look inside.
        for key, value in _fields(record).items():
            setattr(record, key, self.redactor.redact_any(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redactor.redact(
                logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.redact(record.stack_info)
        return True


def setup(level: str = "INFO", fmt: str | None = None) -> None:
    fmt = fmt or os.environ.get(FORMAT_ENV, "logfmt")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    logging.captureWarnings(True)  # Python's warnings (Celery's root warning) in the same format


def mask(secrets: Iterable[str] | Redactor) -> None:
    """Mask these values in every log line from now on."""
    f = MaskSecrets(secrets)
    for handler in logging.getLogger().handlers:
        handler.filters = [x for x in handler.filters if not isinstance(x, MaskSecrets)]
        handler.addFilter(f)
