"""One masking function for every secret, wherever text from the outside world is kept or shown.

Platforms quote requests back in their errors: dev.to echoes the `api-key` it refused, an SMTP
server answers `535 ... failed for user:password`, a proxy repeats the `Authorization` header.
That text lands in the ledger (`last_error`), a target's health (`broken`), the logs, the API and
the status page. So every one of those paths calls `Redactor.redact`, which hides each configured
secret in the forms it travels in: as is, URL-encoded, JSON-escaped, and inside base64 (a Basic
`user:password` header echoed back is still the password).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "********"
MIN_SECRET = 4  # shorter values would mask ordinary words; config refuses such secrets anyway

# A run that may be base64 (standard or URL-safe alphabet): long enough to hold a secret.
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def _variants(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret),
             json.dumps(secret, ensure_ascii=True)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    # Its own base64 (a token sent as is, then echoed encoded), in both alphabets.
    raw = secret.encode()
    for enc in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        forms.add(enc.decode().rstrip("="))
    return {f for f in forms if len(f) >= MIN_SECRET}


def _b64decode(run: str) -> bytes | None:
    text = run.rstrip("=")
    text = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(text)
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


class Redactor:
    """Masks a fixed set of secrets. Cheap when there are none; built once per process."""

    def __init__(self, secrets: Iterable[str | bytes | None] = ()) -> None:
        plain: set[str] = set()
        for s in secrets:
            if not s:
                continue
            text = s.decode(errors="replace") if isinstance(s, bytes) else str(s)
            if len(text) >= MIN_SECRET:
                plain.add(text)
        self.secrets = sorted(plain, key=len, reverse=True)
        forms: set[str] = set()
        for s in self.secrets:
            forms |= _variants(s)
        self._forms = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(f) for f in self._forms)) if forms else None
        self._raw = [s.encode() for s in self.secrets]

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def _in_base64(self, m: re.Match[str]) -> str:
        decoded = _b64decode(m.group(0))
        if decoded and any(raw in decoded for raw in self._raw):
            return MASK
        return m.group(0)

    def redact(self, text: str) -> str:
        """`text` with every secret masked, in every form it may have taken."""
        if not self._pattern or not text:
            return text
        text = self._pattern.sub(MASK, text)
        # A secret inside base64 with other bytes around it (`user:password`) shifts with its
        # offset, so no fixed form matches: decode each run that could hold one and look.
        return _B64_RUN.sub(self._in_base64, text)

    def redact_any(self, value: Any) -> Any:
        """The same for structured values: dicts, lists and tuples, recursively."""
        if not self._pattern:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, bytes):
            return self.redact(value.decode(errors="replace"))
        if isinstance(value, dict):
            return {k: self.redact_any(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact_any(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.redact_any(v) for v in value)
        if value is None or isinstance(value, int | float | bool):
            return value
        return self.redact(str(value))


NONE = Redactor()
