"""One exception root, with subclasses that say what the caller should do next.

Delivery errors are the contract between an adapter and the dispatcher: an adapter raises one of
them, and the dispatcher turns it into a ledger state (`failed`, `dead` or `unknown`) without
knowing anything about the platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import requests


class SyndicateError(Exception):
    """Root of every error syndicate raises on purpose."""


class ConfigError(SyndicateError):
    """The configuration is wrong; `key` names the offending setting (e.g. `targets[1].port`)."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"config: {key}: {message}")


class FetchError(SyndicateError):
    """A source could not be fetched (network, status, size cap)."""

    def __init__(
        self,
        url: str,
        message: str,
        *,
        status: int | None = None,
        response: requests.Response | None = None,
    ) -> None:
        self.url = url
        self.status = status
        self.response = response
        super().__init__(f"{url}: {message}")


class FeedError(SyndicateError):
    """The bytes fetched are not a feed we can read."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        super().__init__(f"{url}: {message}")


class UnknownSourceError(SyndicateError):
    """A webhook or command named a source that is not configured."""


class UnknownEntryError(SyndicateError):
    """No entry is known by that id or URL."""


class DeliveryError(SyndicateError):
    """Raised by a target adapter. Carries the request and response when there was one."""

    def __init__(
        self,
        message: str,
        *,
        request: requests.PreparedRequest | None = None,
        response: requests.Response | None = None,
        status: int | None = None,
    ) -> None:
        self.message = message
        self.request = request
        self.response = response
        self.status = status if status is not None else (
            response.status_code if response is not None else None
        )
        super().__init__(message)


class TransientError(DeliveryError):
    """Worth trying again later; `retry_after` (seconds) is the target's own hint, if it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class RateLimited(TransientError):
    """Our own count of the platform's limit says wait: nothing was sent, no attempt is spent."""


class TargetBroken(DeliveryError):
    """The target refused our credentials (401/403): every delivery to it waits until it is
    fixed, while the other targets go on."""


class PermanentError(DeliveryError):
    """The target refused the entry for good (a 4xx other than 408/429): the delivery is `dead`."""


class AmbiguousError(DeliveryError):
    """The request may or may not have taken effect (a timeout after sending).

    A target that can look up its own posts, or that honours an idempotency key, turns the next
    attempt into a safe check; any other target marks the delivery `unknown` for a person to settle.
    """
