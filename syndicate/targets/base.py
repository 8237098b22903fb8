"""The adapter base: one pipeline for every target; an adapter only fills hooks.

`Target.deliver` is the pipeline: look for a copy the platform already has (adopt it), else say the
request is about to leave (`Attempt.on_wire`) and send it. `HttpTarget` adds the HTTP half: it
prepares the adapter's request, sends it with timeouts, and turns every failure into one of three
errors the dispatcher understands (`TransientError`, `PermanentError`, `AmbiguousError`), each
carrying the request and response. An adapter turns an entry into a request (`build_request`) and a
response into a `DeliveryResult` (`parse_response`), and nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import hashlib
import html
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from .. import content
from ..config import SiteConfig, TargetConfig
from ..entry import Entry
from ..errors import (
    AmbiguousError,
    ConfigError,
    PermanentError,
    RateLimited,
    TargetBroken,
    TransientError,
)
from ..fetch import USER_AGENT
from ..limiter import Limiter, RateLimit
from ..session import Session
from ..verify import Copy, compare

log = logging.getLogger("syndicate.targets")
SECRET_MASK = "********"


@dataclass(frozen=True)
class Option:
    """One adapter option as the config file spells it."""

    type: type | tuple[type, ...] = str
    required: bool = False
    default: Any = None
    choices: tuple[Any, ...] | None = None
    secret: bool = False
    url: bool = False
    help: str = ""


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


def retry_after(resp: requests.Response | None) -> float | None:
    """`Retry-After` in seconds (both the delta and the HTTP-date forms), if the target sent it."""
    if resp is None:
        return None
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
    # A delivery made of several requests (create, fill, send) that records each step.
    multi_step: ClassVar[bool] = False
    # Newsletters: may send one email per entry (`mode = "each"`) or a digest on a schedule.
    newsletter: ClassVar[bool] = False

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
        from ..config import MissingEnv

        known = set(cls.options) | {"tags", "footer", "on_edit"}
        if cls.newsletter:
            known |= {"mode", "schedule", "timezone"}
        for key in raw:
            if key not in known:
                raise ConfigError(f"{where}.{key}",
                                  f"unknown option for kind {cls.kind!r} (known: {sorted(known)})")
        out: dict[str, Any] = {}
        for key, opt in cls.options.items():
            value = raw.get(key)
            if isinstance(value, MissingEnv):
                raise ConfigError(f"{where}.{key}", f"environment variable {value.var} is not set")
            if value is None or value == "":
                if opt.required:
                    raise ConfigError(f"{where}.{key}", f"is required for kind {cls.kind!r}"
                                      + (f" ({opt.help})" if opt.help else ""))
                out[key] = opt.default
                continue
            types = opt.type if isinstance(opt.type, tuple) else (opt.type,)
            if int in types and float not in types and isinstance(value, str) and value.isdigit():
                value = int(value)
            if bool in types and isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
                names = " or ".join(t.__name__ for t in types)
                raise ConfigError(f"{where}.{key}", f"expected {names}, got {value!r}")
            if opt.choices and value not in opt.choices:
                raise ConfigError(f"{where}.{key}",
                                  f"expected one of {list(opt.choices)}, got {value!r}")
            if opt.url and not re.match(r"^https?://[^/\s]+", str(value)):
                raise ConfigError(f"{where}.{key}", f"expected an http(s) URL, got {value!r}")
            out[key] = value
        for key in ("tags", "footer", "on_edit"):
            if key in raw:
                out[key] = raw[key]
        if out.get("on_edit") not in (None, "update", "ignore"):
            raise ConfigError(f"{where}.on_edit", f"expected 'update' or 'ignore', got "
                              f"{out['on_edit']!r}")
        if out.get("on_edit") == "update" and not cls.can_update:
            raise ConfigError(f"{where}.on_edit", f"kind {cls.kind!r} cannot edit a post once "
                              "it is published: use 'ignore'")
        if cls.newsletter:
            out.update(_newsletter_options(raw, where))
        if "tags" in out and not isinstance(out["tags"], dict):
            raise ConfigError(f"{where}.tags", "expected a table mapping a source category to "
                              "a tag or a list of tags")
        return out

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


def _newsletter_options(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """`mode = "each"` (an email per entry) or `"digest"` with a cron `schedule` and `timezone`."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    mode = raw.get("mode") or "each"
    if mode not in ("each", "digest"):
        raise ConfigError(f"{where}.mode", f"expected 'each' or 'digest', got {mode!r}")
    out: dict[str, Any] = {"mode": mode, "timezone": raw.get("timezone") or "UTC",
                           "schedule": raw.get("schedule")}
    try:
        ZoneInfo(out["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.timezone", f"unknown time zone {out['timezone']!r} (e.g. "
                          "'Europe/Berlin')") from None
    if mode == "digest" and (not isinstance(out["schedule"], str)
                             or not croniter.is_valid(out["schedule"])):
            raise ConfigError(f"{where}.schedule", "a digest needs a cron expression, e.g. "
                              f"'0 8 * * MON', got {out['schedule']!r}")
    return out


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the target (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, NewConnectionError | ConnectTimeoutError | NameResolutionError):
            return True
        reason = getattr(cur, "reason", None)
        nxt = reason if isinstance(reason, BaseException) else None
        if nxt is None and cur.args and isinstance(cur.args[0], BaseException):
            nxt = cur.args[0]
        cur = nxt or cur.__cause__ or cur.__context__
    return False


class HttpTarget(Target):
    """A target behind an HTTP API."""

    default_base_url: ClassVar[str] = ""
    connect_timeout: ClassVar[float] = 10.0

    def __init__(self, config: TargetConfig, site: SiteConfig) -> None:
        super().__init__(config, site)
        self.base_url = str(self.opts.get("base_url") or self.default_base_url).rstrip("/")
        self.session = Session()

    def close(self) -> None:
        self.session.close()

    # -- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request: ...

    @abstractmethod
    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult: ...

    def auth(self, request: requests.Request) -> None:
        """Add credentials to any request this adapter makes."""

    def error_message(self, resp: requests.Response) -> str:
        """The platform's own words, from its documented error body."""
        try:
            body = resp.json()
        except ValueError:
            return resp.text.strip()[:300] or resp.reason
        if isinstance(body, dict):
            # problem+json (Mailchimp) and `{code, detail}` (Buttondown): say both parts.
            label = body.get("title") or body.get("code")
            if isinstance(label, str) and isinstance(body.get("detail"), str):
                return f"{label}: {body['detail']}"
            for key in ("error", "message", "detail", "title"):
                if isinstance(body.get(key), str):
                    return str(body[key])
            errs = body.get("errors")
            if isinstance(errs, list) and errs and isinstance(errs[0], dict):
                return "; ".join(str(e.get("message") or e) for e in errs)
        return str(body)[:300]

    def url(self, path: str) -> str:
        return self.base_url + path

    # -- the HTTP half of the pipeline -------------------------------------------------------
    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        resp = self.call(self.build_request(entry, attempt), creates=True)
        return self.parse_response(resp, entry)

    def preview(self, entry: Entry, attempt: Attempt) -> str:
        prepared = self.prepare(self.build_request(entry, attempt))
        lines = [f"{prepared.method} {self.mask(unquote(prepared.url or ''))}"]
        for name, value in prepared.headers.items():
            if name.lower() in ("authorization", "api-key", "x-api-key", "cookie"):
                scheme = value.split(" ", 1)[0] if " " in value else ""
                value = f"{scheme} {SECRET_MASK}".strip()
            lines.append(f"{name}: {self.mask(value)}")
        body = prepared.body or b""
        text = body.decode() if isinstance(body, bytes) else str(body)
        if prepared.headers.get("Content-Type", "").startswith("application/json") and text:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return "\n".join(lines) + "\n\n" + self.mask(text) + "\n"

    def prepare(self, request: requests.Request) -> requests.PreparedRequest:
        self.auth(request)
        # Prepared on its own: the session holds no cookies, defaults or hooks for an API
        # client, and requests' generic merging of them is a fifth of a delivery's CPU.
        request.headers = {"User-Agent": USER_AGENT, **(request.headers or {})}
        return request.prepare()

    def call(self, request: requests.Request, *, creates: bool = False,
             writes: bool | None = None) -> requests.Response:
        """Send one request; return a 2xx response or raise the error that says what next.

        `creates` marks a request that makes a post: if it times out after leaving, the outcome
        is ambiguous. A read (lookup) that times out is simply worth retrying. Writes count
        against the platform's rate limits.
        """
        if creates or (writes if writes is not None else request.method != "GET"):
            self.throttle(creates=creates)
        prepared = self.prepare(request)
        try:
            resp = self.session.send(prepared, timeout=(self.connect_timeout, self.config.timeout),
                                     allow_redirects=False)
        except requests.RequestException as exc:
            what = f"{request.method} {self.describe(prepared.url)}"
            if _never_sent(exc):
                raise TransientError(f"{what}: cannot connect: {exc.__class__.__name__}",
                                     request=prepared) from None
            if creates:
                raise AmbiguousError(f"{what}: no answer after sending ({exc.__class__.__name__});"
                                     " the target may have the post", request=prepared) from None
            raise TransientError(f"{what}: {exc.__class__.__name__}", request=prepared) from None
        self.check(resp, prepared)
        return resp

    # -- credentials -------------------------------------------------------------------------
    platform: ClassVar[str] = ""  # the platform's name in messages ("WordPress")

    def whoami(self) -> requests.Request | None:
        """A request only our valid credentials get a 2xx for (the platform's who-am-I), to tell
        rejected credentials from a missing permission; None where the platform has none."""
        return None

    def may_mean_rejected_credentials(self, resp: requests.Response) -> bool:
        """Whether this error can mean the platform did not accept our credentials."""
        return resp.status_code in (401, 403)

    def confirm_credentials(self, message: str, prepared: requests.PreparedRequest,
                            resp: requests.Response) -> None:
        """Raise `TargetBroken` if the platform rejects our credentials; return if it accepts
        them (the error was about something else)."""
        probe = self.whoami()
        if probe is None:
            if resp.status_code in (401, 403):
                raise TargetBroken(message, request=prepared, response=resp)
            return
        checked = self.prepare(probe)
        try:
            answer = self.session.send(checked, timeout=(self.connect_timeout,
                                                         self.config.timeout),
                                       allow_redirects=False)
        except requests.RequestException as exc:
            raise TransientError(f"{message} (and the credentials could not be checked: "
                                 f"{exc.__class__.__name__})", request=prepared,
                                 response=resp) from None
        if answer.status_code in (401, 403):
            raise TargetBroken(f"credentials rejected by {self.platform or self.kind}: "
                               f"{self.error_message(answer)}", request=checked, response=answer)
        if not 200 <= answer.status_code < 300:
            raise TransientError(f"{message} (and the credentials check answered HTTP "
                                 f"{answer.status_code})", request=prepared, response=resp)

    def check(self, resp: requests.Response, prepared: requests.PreparedRequest) -> None:
        status = resp.status_code
        if 200 <= status < 300:
            return
        message = f"HTTP {status} from {self.describe(prepared.url)}: {self.error_message(resp)}"
        if self.may_mean_rejected_credentials(resp):
            self.confirm_credentials(message, prepared, resp)
            if status == 403:  # the credentials work: the account lacks this permission
                raise PermanentError(f"{message} (the credentials are accepted: the account "
                                     "lacks this permission)", request=prepared, response=resp)
            if status == 401:
                raise TransientError(message, request=prepared, response=resp)
        if status in (408, 429) or status >= 500:
            raise TransientError(message, retry_after=retry_after(resp), request=prepared,
                                 response=resp)
        raise PermanentError(message, request=prepared, response=resp)

    def describe(self, url: str | None) -> str:
        """A URL fit for logs and errors: without its query string, where keys may hide."""
        return (url or "").split("?", 1)[0]
