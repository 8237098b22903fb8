"""The HTTP half of the adapter pipeline (as django-anymail's `base_requests.py`).

`HttpTarget` prepares the adapter's request, sends it with timeouts, and turns every failure
into one of the errors the dispatcher understands (`TransientError`, `PermanentError`,
`AmbiguousError`, `TargetBroken`), each carrying the request and response. An adapter turns an
entry into a request (`build_request`) and a response into a `DeliveryResult`
(`parse_response`), and nothing else.
"""

from __future__ import annotations

import email.utils
import json
import time
from abc import abstractmethod
from typing import ClassVar
from urllib.parse import unquote

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from ..config import SiteConfig, TargetConfig
from ..entry import Entry
from ..errors import AmbiguousError, PermanentError, TargetBroken, TransientError
from ..fetch import USER_AGENT
from ..guard import Deadline
from ..session import Session, prepared_url
from ..transport import ConnectFailed, ReplyTooLarge
from .base import SECRET_MASK, Attempt, DeliveryResult, Target


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


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request cannot have reached the target (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout | ConnectFailed):
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
        if request.files or request.cookies or request.auth or any(request.hooks.values()):
            return request.prepare()
        # `Request.prepare`'s steps, with the URL remembered (`prepared_url`) and the auth,
        # file and hook steps skipped when there is nothing for them: a third of its CPU.
        prepared = requests.PreparedRequest()
        prepared.prepare_method(request.method)
        prepared.url = prepared_url(request.url, request.params)
        prepared.prepare_headers(request.headers)
        prepared.prepare_cookies(None)  # an empty jar, which a followed redirect writes to
        prepared.prepare_body(request.data, None, request.json)
        if "@" in prepared.url:  # credentials in the URL become Basic auth, as requests does
            prepared.prepare_auth(None, prepared.url)
        prepared.hooks = {"response": []}
        return prepared

    def exchange(self, prepared: requests.PreparedRequest) -> requests.Response:
        """One request and its answer, within one deadline for the whole (connect, then the
        read timeout): a platform that answers a byte every few seconds never trips a
        per-read timeout, and would hold a worker's thread for as long as it liked."""
        with Deadline(self.connect_timeout + self.config.timeout):
            return self.session.send(prepared, timeout=(self.connect_timeout,
                                                        self.config.timeout),
                                     allow_redirects=False)

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
            resp = self.exchange(prepared)
        except requests.RequestException as exc:
            what = f"{request.method} {self.describe(prepared.url)}"
            if _never_sent(exc):
                raise TransientError(f"{what}: cannot connect: {exc.__class__.__name__}",
                                     request=prepared) from None
            if isinstance(exc, ReplyTooLarge):  # it answered: say what was wrong with it
                error = AmbiguousError if creates else TransientError
                raise error(f"{what}: {exc}" + ("; the target may have the post" if creates
                                                else ""), request=prepared) from None
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
            answer = self.exchange(checked)
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
