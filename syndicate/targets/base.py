"""The adapter base: one pipeline for every target; an adapter only fills hooks.

`Target.deliver` is the pipeline: look for a copy the platform already has (adopt it, on proof),
else say the request is about to leave (`Attempt.on_wire`) and send it; `check_copy` reads it back.
The HTTP half is `http.HttpTarget`; the option declarations and their reader are `options.py`.
Every adapter returns one normalised `DeliveryResult`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import html
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .. import content
from ..config import SiteConfig, TargetConfig
from ..entry import Entry
from ..errors import (
    PermanentError,
    RateLimited,
)
from ..limiter import Limiter, RateLimit
from ..verify import Copy, compare
from .options import Option, read_options

log = logging.getLogger("syndicate.targets")
SECRET_MASK = "********"


@dataclass(frozen=True)
class DeliveryResult:
    """The one normalised result of every adapter."""

    remote_id: str = ""
    remote_url: str = ""
    adopted: bool = False  # an existing copy on the platform was found and taken as this delivery
    # Read back after sending: True (the platform kept everything), False (see `drift`), None
    # (the platform cannot be read back, or the copy was adopted rather than sent).
    verified: bool | None = None
    drift: str = ""


@dataclass
class Attempt:
    """What an adapter may know about the attempt it is making."""

    entry_id: str
    target: str
    attempt: int = 1
    on_wire: Callable[[], None] = lambda: None
    preview: bool = False  # building a request to show, not to send: make no network calls
    steps: dict[str, str] = field(default_factory=dict)  # what earlier attempts recorded
    save_step: Callable[[str, str], None] = lambda key, value: None

    def checkpoint(self, key: str, value: str) -> None:
        """Record one step's result before taking the next (it survives a crash)."""
        self.save_step(key, value)
        self.steps[key] = value

    @property
    def idempotency_key(self) -> str:
        """Stable for (entry, target): the same on every retry, different for every target."""
        return hashlib.sha256(f"syndicate:{self.entry_id}:{self.target}".encode()).hexdigest()[:40]


class Target(ABC):
    kind: ClassVar[str]
    options: ClassVar[dict[str, Option]] = {}
    # True when sending again after an ambiguous outcome cannot make a second copy, because the
    # adapter looks for the post first or the platform honours an idempotency key.
    safe_to_resend: ClassVar[bool] = False
    # True when that is by a key the platform checks itself (webhook-id, Idempotency-Key): then
    # even a worker that lost its claim cannot make a second copy, and the check of the claim
    # right before sending (a round trip) buys nothing.
    idempotency_key: ClassVar[bool] = False
    # A template for video and other embeds in Markdown (`{url}`), where the platform has one.
    embed_syntax: ClassVar[str | None] = None
    # True when the platform can edit a post in place (then `on_edit` defaults to "update").
    can_update: ClassVar[bool] = False
    # The platform's published limits, counted across all workers by the dispatcher's limiter.
    rate_limits: ClassVar[tuple[RateLimit, ...]] = ()
    # Waits up to this long are slept through; longer ones send the delivery back to the queue.
    max_sleep: ClassVar[float] = 2.0
    # Deliveries one task makes in a row when a poll brings several entries for this target
    # (the target's `per_task` overrides it). One each by default: an HTTP platform answers in
    # tens to hundreds of milliseconds, and separate tasks spread them over the worker threads.
    per_task: ClassVar[int] = 1
    # A delivery made of several requests (create, fill, send) that records each step.
    multi_step: ClassVar[bool] = False
    # Newsletters: may send one email per entry (`mode = "each"`) or a digest on a schedule.
    newsletter: ClassVar[bool] = False
    # True when it sends the email itself (rendered by syndicate's templates): `preview --out`
    # writes its HTML and text.
    is_email: ClassVar[bool] = False

    def __init__(self, config: TargetConfig, site: SiteConfig) -> None:
        self.config = config
        self.site = site
        self.name = config.name
        self.opts: dict[str, Any] = config.options
        self.limiter: Limiter | None = None  # set by the dispatcher

    @property
    def on_edit(self) -> str:
        return str(self.opts.get("on_edit") or ("update" if self.can_update else "ignore"))

    def throttle(self, *, creates: bool) -> None:
        """Take a slot in the platform's limits, sleeping briefly or raising `RateLimited`."""
        limits = [lim for lim in self.rate_limits if lim.scope == "write" or creates]
        if self.limiter is None or not limits:
            # Without limits of its own only the target's cooldown applies, and the claim that
            # began this attempt has just checked it.
            return
        for _ in range(3):
            wait = self.limiter.acquire(self.name, limits)
            if wait <= 0:
                return
            if wait > self.max_sleep:
                break
            time.sleep(wait)
        raise RateLimited(f"holding back to stay within {self.name}'s rate limit",
                          retry_after=wait)

    @classmethod
    def check_options(cls, raw: dict[str, Any], where: str) -> dict[str, Any]:
        """Validate the adapter's own keys; fill defaults. Errors name `where.key`."""
        return read_options(cls.options, raw, where, kind=cls.kind, can_update=cls.can_update,
                            newsletter=cls.newsletter)

    # -- the pipeline ----------------------------------------------------------------------
    def deliver(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        existing = self.find_existing(entry)
        if existing is not None:
            return existing
        attempt.on_wire()
        return self.send(entry, attempt)

    # -- hooks -----------------------------------------------------------------------------
    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        """A copy of `entry` the platform already has (found by canonical URL), if it can tell."""
        return None

    @abstractmethod
    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult: ...

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        """Edit the copy the platform already has (only called when `can_update`)."""
        raise PermanentError(f"kind {self.kind!r} cannot update a post")

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @contextlib.contextmanager
    def locked(self, name: str) -> Iterator[None]:
        """One worker at a time for `name` on this target (where the dispatcher gave a limiter)."""
        if self.limiter is None:
            yield
            return
        with self.limiter.lock(self.name, name):
            yield

    def read_back(self, remote_id: str) -> Copy | None:
        """The copy as the platform now holds it, if it can be read (None: it cannot)."""
        return None

    def sent_copy(self, entry: Entry) -> Copy:
        """What was sent, in the form `read_back` answers in."""
        return Copy(entry.title, self.body_html(entry))

    def check_copy(self, entry: Entry, result: DeliveryResult) -> DeliveryResult:
        """Read the copy back and say what the platform changed; never a reason to resend."""
        if not result.remote_id or result.adopted:
            return result
        try:
            got = self.read_back(result.remote_id)
        except Exception as exc:  # a failed read says nothing about the copy itself
            log.info("%s: cannot read copy %s back: %s", self.name, result.remote_id, exc)
            return result
        if got is None:
            return result
        drift = compare(self.sent_copy(entry), got)
        return dataclasses.replace(result, verified=not drift, drift="; ".join(drift))

    def preview(self, entry: Entry, attempt: Attempt) -> str:
        """Exactly what would be sent, secrets masked, sending nothing."""
        raise NotImplementedError

    # -- helpers shared by adapters ----------------------------------------------------------
    @classmethod
    def secret_values(cls, options: dict[str, Any]) -> list[str]:
        """The secrets in these options, in every form the adapter sends them."""
        return [str(options[k]) for k, o in cls.options.items() if o.secret and options.get(k)]

    def secrets(self) -> list[str]:
        return self.secret_values(self.opts)

    def mask(self, text: str) -> str:
        for secret in sorted(self.secrets(), key=len, reverse=True):
            text = text.replace(secret, SECRET_MASK)
        return text

    def footer_html(self, entry: Entry) -> str:
        template = self.opts.get("footer") or 'Originally published at <a href="{link}">{site}</a>.'
        site = self.site.title or entry.link
        # The template is the operator's HTML; what fills it comes from a feed and is escaped.
        return "<p><em>" + template.format(link=html.escape(entry.link), site=html.escape(site),
                                           title=html.escape(entry.title)) + "</em></p>"

    def body_html(self, entry: Entry) -> str:
        """The post as HTML, with the footer linking home."""
        return (entry.body_html + "\n" + self.footer_html(entry)).strip()

    def body_markdown(self, entry: Entry) -> str:
        return content.to_markdown(self.body_html(entry), embed=self.embed_syntax)

    def tags(self, entry: Entry, *, limit: int, normalise: Callable[[str], str] = str) -> list[str]:
        mapping = self.opts.get("tags")
        out: list[str] = []
        for cat in entry.categories:
            mapped = mapping.get(cat, cat) if isinstance(mapping, dict) else cat
            for tag in mapped if isinstance(mapped, list) else [mapped]:
                t = normalise(str(tag))
                if t and t not in out:
                    out.append(t)
        return out[:limit]


