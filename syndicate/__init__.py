"""syndicate: publish on your own site, syndicate elsewhere (POSSE), once, with a link home.

Data flows one way: `poller` (sources) -> `store` (entries in Redis) -> `dispatcher` (the
`ledger` of deliveries) -> `targets` (adapters). `feed` only reads the store.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import Config, load  # noqa: E402
from .entry import Entry  # noqa: E402
from .errors import (  # noqa: E402
    AmbiguousError,
    ConfigError,
    DeliveryError,
    FeedError,
    FetchError,
    PermanentError,
    SyndicateError,
    TransientError,
    UnknownSourceError,
)

__all__ = [
    "AmbiguousError",
    "Config",
    "ConfigError",
    "DeliveryError",
    "Entry",
    "FeedError",
    "FetchError",
    "PermanentError",
    "SyndicateError",
    "TransientError",
    "UnknownSourceError",
    "__version__",
    "load",
]
