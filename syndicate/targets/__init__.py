"""Target adapters, by config `kind`."""

from __future__ import annotations

import dataclasses

from ..config import Config, SiteConfig, TargetConfig
from ..config import secrets as config_secrets
from ..errors import ConfigError
from .base import Attempt, DeliveryResult, Target
from .bluesky import BlueskyTarget
from .buttondown import ButtondownTarget
from .devto import DevtoTarget
from .ghost import GhostNewsletterTarget, GhostTarget
from .hashnode import HashnodeTarget
from .http import HttpTarget
from .listmonk import ListmonkTarget
from .mailchimp import MailchimpTarget
from .mastodon import MastodonTarget
from .medium import MediumTarget
from .options import Option
from .smtp import SmtpTarget
from .webhook import WebhookTarget
from .wordpress import WordpressTarget

registry: dict[str, type[Target]] = {
    cls.kind: cls for cls in (SmtpTarget, WebhookTarget, DevtoTarget, MediumTarget,
                              HashnodeTarget, GhostTarget, WordpressTarget, ButtondownTarget,
                              MailchimpTarget, ListmonkTarget, GhostNewsletterTarget,
                              MastodonTarget, BlueskyTarget)
}


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


__all__ = ["Attempt", "DeliveryResult", "HttpTarget", "Option", "Target", "build", "check",
           "registry", "secrets"]
