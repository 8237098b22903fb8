"""Target adapters, by config `kind`.

An adapter's module is imported the first time its kind is asked for: a process loads the
adapters its config names, not all thirteen (they bring their own libraries, and every part of
`syndicate up` starts by checking the config).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..config import Config, SiteConfig, TargetConfig
from ..config import secrets as config_secrets
from ..errors import ConfigError
from .options import Option

if TYPE_CHECKING:
    from .base import Attempt, DeliveryResult, Target
    from .http import HttpTarget

# Imported when first named: `syndicate up` checks a config with none of them loaded.
_LAZY = {"Attempt": "base", "DeliveryResult": "base", "Target": "base", "HttpTarget": "http"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


# kind -> "module:class", the module relative to this package.
ADAPTERS: dict[str, str] = {
    "smtp": "smtp:SmtpTarget",
    "webhook": "webhook:WebhookTarget",
    "devto": "devto:DevtoTarget",
    "medium": "medium:MediumTarget",
    "hashnode": "hashnode:HashnodeTarget",
    "ghost": "ghost:GhostTarget",
    "wordpress": "wordpress:WordpressTarget",
    "buttondown": "buttondown:ButtondownTarget",
    "mailchimp": "mailchimp:MailchimpTarget",
    "listmonk": "listmonk:ListmonkTarget",
    "ghost_newsletter": "ghost:GhostNewsletterTarget",
    "mastodon": "mastodon:MastodonTarget",
    "bluesky": "bluesky:BlueskyTarget",
}


class Registry(Mapping[str, "type[Target]"]):
    """The adapters by kind, each imported on first use."""

    def __init__(self, adapters: Mapping[str, str]) -> None:
        self._adapters = dict(adapters)
        self._loaded: dict[str, type[Target]] = {}

    def __getitem__(self, kind: str) -> type[Target]:
        cls = self._loaded.get(kind)
        if cls is None:
            module, _, name = self._adapters[kind].partition(":")
            cls = getattr(importlib.import_module(f"{__name__}.{module}"), name)
            assert isinstance(cls, type) and cls.kind == kind
            self._loaded[kind] = cls
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(self._adapters)

    def __len__(self) -> int:
        return len(self._adapters)

    def __contains__(self, kind: object) -> bool:
        return kind in self._adapters


registry = Registry(ADAPTERS)


def build(config: TargetConfig, site: SiteConfig) -> Target:
    return registry[config.kind](config, site)


def check(config: Config) -> Config:
    """The config with each target's options checked by its own adapter (defaults filled).
    Errors name the key, as the config's own do: `targets[devto].api_key: ...`. Done once at
    start (`Runtime.open`, the CLI); a checked target is not checked again."""
    out = []
    for t in config.targets:
        if t.checked:
            out.append(t)
            continue
        adapter = registry.get(t.kind)
        where = f"targets[{t.name}]"
        if adapter is None:
            raise ConfigError(f"{where}.kind", f"unknown kind {t.kind!r} (known: "
                              f"{sorted(registry)})")
        options = adapter.check_options(t.options, where) if t.enabled else t.options
        out.append(dataclasses.replace(t, options=options, checked=True))
    return dataclasses.replace(config, targets=tuple(out))


def secrets(config: Config) -> list[str]:
    """Every secret the config holds, its targets' included, so logs and errors can mask them."""
    out = config_secrets(config)
    for t in config.targets:
        adapter = registry.get(t.kind)
        if adapter is not None:
            out += adapter.secret_values(t.options)
    return [s for s in out if s]


__all__ = ["ADAPTERS", "Attempt", "DeliveryResult", "HttpTarget", "Option", "Registry", "Target",
           "build", "check", "registry", "secrets"]
