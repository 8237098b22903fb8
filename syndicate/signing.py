"""Standard Webhooks signatures (https://www.standardwebhooks.com/), both ways, and WebSub's
`X-Hub-Signature`.

Signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`, HMAC-SHA256 with the secret's bytes,
sent as `webhook-signature: v1,<base64>` (several space-separated signatures allowed, so a secret
can be rotated). Comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping


class SignatureError(Exception):
    """Why a signed request was refused (said in the 401 body, never with the secret)."""


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secret: bytes, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(secret, msg_id, ts, body),
    }


def verify(secret: bytes, hdrs: Mapping[str, str], body: bytes, *, tolerance: float = 300.0,
           now: float | None = None) -> str:
    """Check a Standard Webhooks request; return its `webhook-id` or raise `SignatureError`."""
    msg_id = hdrs.get("webhook-id") or ""
    ts_text = hdrs.get("webhook-timestamp") or ""
    sig_header = hdrs.get("webhook-signature") or ""
    if not msg_id or not ts_text or not sig_header:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        ts = int(ts_text)
    except ValueError:
        raise SignatureError("webhook-timestamp is not a whole number of seconds") from None
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        raise SignatureError(f"webhook-timestamp is more than {tolerance:g}s away from now")
    expected = sign(secret, msg_id, ts, body).split(",", 1)[1].encode()
    for candidate in sig_header.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return msg_id
    raise SignatureError("no webhook-signature matches")


def hub_signature(secret: bytes, body: bytes, algo: str = "sha256") -> str:
    return f"{algo}=" + hmac.new(secret, body, getattr(hashlib, algo)).hexdigest()


def verify_hub(secret: bytes, header: str, body: bytes) -> bool:
    """WebSub's `X-Hub-Signature: sha256=<hex>` (sha1/sha384/sha512 accepted as the spec allows)."""
    algo, _, value = (header or "").partition("=")
    if algo not in ("sha1", "sha256", "sha384", "sha512") or not value:
        return False
    return hmac.compare_digest(hub_signature(secret, body, algo), f"{algo}={value}")
