"""Target adapters, by config `kind`."""

from __future__ import annotations

from ..config import SiteConfig, TargetConfig
from .base import Attempt, DeliveryResult, HttpTarget, Option, Target
from .buttondown import ButtondownTarget
from .devto import DevtoTarget
from .ghost import GhostNewsletterTarget, GhostTarget
from .hashnode import HashnodeTarget
from .listmonk import ListmonkTarget
from .mailchimp import MailchimpTarget
from .medium import MediumTarget
from .smtp import SmtpTarget
from .webhook import WebhookTarget
from .wordpress import WordpressTarget

registry: dict[str, type[Target]] = {
    cls.kind: cls for cls in (SmtpTarget, WebhookTarget, DevtoTarget, MediumTarget,
                              HashnodeTarget, GhostTarget, WordpressTarget, ButtondownTarget,
                              MailchimpTarget, ListmonkTarget, GhostNewsletterTarget)
}


def build(config: TargetConfig, site: SiteConfig) -> Target:
    return registry[config.kind](config, site)


__all__ = ["Attempt", "DeliveryResult", "HttpTarget", "Option", "Target", "build", "registry"]
