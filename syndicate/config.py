"""Configuration: one TOML file, `${NAME}` filled from the environment, checked before anything runs.

A wrong config stops start-up with a `ConfigError` that names the key (`targets[devto].base_url`)
and what was expected, so nobody has to guess which of forty lines is wrong.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, overload

from .errors import ConfigError
from .keys import DEFAULT_PREFIX

DEFAULT_CONFIG_PATH = Path("config/syndicate.toml")
CONFIG_ENV = "SYNDICATE_CONFIG"
PREFIX_ENV = "SYNDICATE_REDIS_PREFIX"

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)-([^}]*))?\}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class MissingEnv(str):
    """A `${NAME}` whose variable is unset: an error only if a part that is enabled uses it."""

    var: str

    def __new__(cls, var: str) -> MissingEnv:
        obj = super().__new__(cls, "")
        obj.var = var
        return obj


@dataclass(frozen=True)
class SiteConfig:
    title: str = "syndicate"
    url: str = "http://127.0.0.1:8080/"
    author: str = ""
    description: str = ""
    language: str = "en"
    feed_size: int = 50
    hub: str | None = None


@dataclass(frozen=True)
class WebhookConfig:
    secret: bytes | None = None
    tolerance: float = 300.0
    max_body: int = 64 * 1024


@dataclass(frozen=True)
class SourceConfig:
    name: str
    url: str
    poll_interval: float = 300.0
    backfill: bool = False
    enabled: bool = True
    timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    flood_limit: int = 5
    websub: bool = True
    allow_private: bool = False  # fetch from loopback/private addresses (local use, tests)
    kind: str = "feed"  # "feed", or "ghost_webhook": Ghost pushes each post (POST /hooks/ghost)
    secret: bytes | None = None  # ghost_webhook: the secret Ghost signs with


@dataclass(frozen=True)
class FetchConfig:
    # Off by default: URLs from feed content (post pages, images, redirects) must not reach
    # the machine's own or its network's services.
    allow_private: bool = False


@dataclass(frozen=True)
class TargetConfig:
    name: str
    kind: str
    enabled: bool = True
    timeout: float = 30.0
    max_attempts: int = 8
    delay: float = 0.0
    # Deliveries one task makes in a row when a poll brings several entries at once (a first
    # run, a backfill); None: the adapter's own default (`Target.per_task`).
    per_task: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    checked: bool = False  # options checked by the adapter (syndicate.targets.check)


@dataclass(frozen=True)
class AdminConfig:
    password: str | None = None  # the status page's login
    token: str | None = None  # or `Authorization: Bearer <token>`, for scripts
    # Reverse proxies whose X-Forwarded-For / -Proto are believed (addresses or networks).
    trusted_proxies: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return bool(self.password or self.token)


@dataclass(frozen=True)
class WorkerConfig:
    retry_base: float = 10.0  # first retry after about this long, doubling each time
    retry_cap: float = 6 * 3600.0
    tick: float = 5.0  # how often the scheduler polls due sources and runs the reconciler
    visibility_timeout: float = 3600.0  # Celery's Redis transport redelivers unacked after this
    concurrency: int = 4
    lease_margin: float = 30.0  # a claim lasts 3 x the target's timeout plus this
    processes: int = 1  # worker processes `syndicate up` runs ("auto": two per core)


DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass(frozen=True)
class RedisConfig:
    url: str | None = None
    prefix: str = DEFAULT_PREFIX

    @property
    def address(self) -> str:
        """The server to use: `url`, or a Redis on this machine's standard port."""
        return self.url or DEFAULT_REDIS_URL


@dataclass(frozen=True)
class Config:
    site: SiteConfig = field(default_factory=SiteConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    sources: tuple[SourceConfig, ...] = ()
    targets: tuple[TargetConfig, ...] = ()
    redis: RedisConfig = field(default_factory=RedisConfig)
    worker: WorkerConfig = field(default_factory=WorkerConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    path: Path | None = None

    def source(self, name: str) -> SourceConfig | None:
        return self._by_name[0].get(name)

    def target(self, name: str) -> TargetConfig | None:
        return self._by_name[1].get(name)

    @cached_property
    def _by_name(self) -> tuple[dict[str, SourceConfig], dict[str, TargetConfig]]:
        # Every poll and delivery looks its config up by name; a thousand sources is common.
        return {s.name: s for s in self.sources}, {t.name: t for t in self.targets}

    @property
    def enabled_sources(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.enabled]

    @property
    def polled_sources(self) -> list[SourceConfig]:
        """The enabled sources with a feed to poll (a Ghost webhook source may have none)."""
        return [s for s in self.sources if s.enabled and s.url]

    @property
    def enabled_targets(self) -> list[TargetConfig]:
        return [t for t in self.targets if t.enabled]


def parse_duration(value: object, key: str) -> float:
    """`"5m"`, `"1h30m"`, `"250ms"` or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(key, f"expected a duration like '5m' or a number of seconds, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(key, "a duration cannot be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        pos, total = 0, 0.0
        for m in _DURATION.finditer(text):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
            pos = m.end()
        if text and pos == len(text):
            return total
    raise ConfigError(key, f"expected a duration like '30s', '5m', '1h' or seconds, got {value!r}")


def expand_env(value: Any, env: dict[str, str] | os._Environ[str]) -> Any:
    """Replace `${NAME}` / `${NAME:-default}` in every string, recursively."""
    if isinstance(value, str):
        missing: list[str] = []

        def sub(m: re.Match[str]) -> str:
            # As the shell does: `${NAME:-default}` when NAME is unset or empty,
            # `${NAME-default}` only when it is unset.
            name, colon, default = m.group(1), m.group(2), m.group(3)
            value = env.get(name)
            if default is not None and (value is None or (colon and value == "")):
                return default
            if value is not None:
                return value
            missing.append(name)
            return ""

        out = _ENV_REF.sub(sub, value)
        return MissingEnv(missing[0]) if missing else out
    if isinstance(value, dict):
        return {k: expand_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(v, env) for v in value]
    return value


class Section:
    """Typed reads from one TOML table, each error naming the full key."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(where, f"expected a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.where = where
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name

    def raw(self, name: str) -> Any:
        self.used.add(name)
        value = self.data.get(name)
        if isinstance(value, MissingEnv):
            raise ConfigError(self.key(name), f"environment variable {value.var} is not set")
        return value

    def string(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise ConfigError(self.key(name), "is required (a non-empty string)")
            return default
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f"expected a string, got {value!r}")
        return value

    def url(self, name: str, default: str | None = None, *, required: bool = False) -> Any:
        value = self.string(name, default, required=required)
        if value and not re.match(r"^https?://[^/\s]+", value):
            raise ConfigError(self.key(name), f"expected an http(s) URL, got {value!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"expected true or false, got {value!r}")
        return value

    @overload
    def integer(self, name: str, default: int, *, minimum: int | None = None) -> int: ...

    @overload
    def integer(self, name: str, default: None, *, minimum: int | None = None) -> int | None: ...

    def integer(self, name: str, default: int | None, *,
                minimum: int | None = None) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.key(name), f"expected a whole number, got {value!r}")
        if minimum is not None and value < minimum:
            raise ConfigError(self.key(name), f"must be at least {minimum}, got {value}")
        return value

    def duration(self, name: str, default: float) -> float:
        value = self.raw(name)
        return default if value is None else parse_duration(value, self.key(name))

    def unknown(self, allowed: set[str]) -> None:
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise ConfigError(self.key(extra[0]), f"unknown key (expected one of {sorted(allowed)})")


def webhook_secret(text: str | None, key: str) -> bytes | None:
    """Standard Webhooks secrets are `whsec_` + base64; a bare string is taken as raw bytes.
    Fewer than 24 bytes is refused: such a key can be guessed offline from one signed request."""
    if not text:
        return None
    if text.startswith("whsec_"):
        try:
            raw = base64.b64decode(text[len("whsec_"):], validate=True)
        except ValueError as exc:
            raise ConfigError(key, "a 'whsec_' secret must be followed by base64") from exc
    else:
        raw = text.encode()
    if len(raw) < MIN_WEBHOOK_SECRET or len(set(raw)) == 1:
        raise ConfigError(key, f"too weak: use at least {MIN_WEBHOOK_SECRET} random bytes, e.g. "
                          "'whsec_' + the output of `openssl rand -base64 32`")
    return raw


def _site(data: Any) -> SiteConfig:
    s = Section(data or {}, "site")
    cfg = SiteConfig(
        title=s.string("title", "syndicate"),
        url=s.url("url", "http://127.0.0.1:8080/"),
        author=s.string("author", ""),
        description=s.string("description", ""),
        language=s.string("language", "en"),
        feed_size=s.integer("feed_size", 50, minimum=1),
        hub=s.url("hub"),
    )
    s.unknown({"title", "url", "author", "description", "language", "feed_size", "hub"})
    return cfg


def _webhook(data: Any) -> WebhookConfig:
    s = Section(data or {}, "webhook")
    cfg = WebhookConfig(
        secret=webhook_secret(s.string("secret"), s.key("secret")),
        tolerance=s.duration("tolerance", 300.0),
        max_body=s.integer("max_body", 64 * 1024, minimum=1024),
    )
    s.unknown({"secret", "tolerance", "max_body"})
    return cfg


def _name(s: Section, seen: set[str]) -> str:
    name: str = s.string("name", required=True)
    if not _NAME.match(name):
        raise ConfigError(s.key("name"), f"use letters, digits, '-', '_' or '.', got {name!r}")
    if name in seen:
        raise ConfigError(s.key("name"), f"{name!r} is used twice")
    seen.add(name)
    return name


MIN_ADMIN_SECRET = 12
MIN_WEBHOOK_SECRET = 24  # bytes, as Standard Webhooks recommends (its own secrets are 24-64)


def _admin(data: Any) -> AdminConfig:
    s = Section(data or {}, "admin")
    proxies = s.raw("trusted_proxies") or []
    if isinstance(proxies, str):
        proxies = [proxies]
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise ConfigError(s.key("trusted_proxies"), "expected a list of addresses or networks, "
                          "e.g. [\"127.0.0.1\", \"10.0.0.0/8\"]")
    for p in proxies:
        try:
            ipaddress.ip_network(p.strip(), strict=False)
        except ValueError:
            raise ConfigError(s.key("trusted_proxies"),
                              f"{p!r} is not an address or network") from None
    cfg = AdminConfig(password=s.string("password"), token=s.string("token"),
                      trusted_proxies=tuple(p.strip() for p in proxies))
    for key in ("password", "token"):
        value = getattr(cfg, key)
        if value is None:
            continue
        if len(value) < MIN_ADMIN_SECRET:
            raise ConfigError(s.key(key), f"too weak: use at least {MIN_ADMIN_SECRET} characters")
        if len(set(value)) == 1 or not value.strip():
            raise ConfigError(s.key(key), "too weak: it is one character repeated")
    s.unknown({"password", "token", "trusted_proxies"})
    return cfg


def _fetch(data: Any) -> FetchConfig:
    s = Section(data or {}, "fetch")
    cfg = FetchConfig(allow_private=s.flag("allow_private", False))
    s.unknown({"allow_private"})
    return cfg


def _sources(data: Any, fetch: FetchConfig) -> tuple[SourceConfig, ...]:
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError("sources", "expected [[sources]] tables")
    out, seen = [], set[str]()
    for i, raw in enumerate(data):
        s = Section(raw, f"sources[{i}]")
        enabled = s.flag("enabled", True)
        name = _name(s, seen)
        s.where = f"sources[{name}]"
        if not enabled:
            out.append(SourceConfig(name=name, url=str(raw.get("url") or ""), enabled=False))
            continue
        kind = s.string("kind", "feed")
        if kind not in ("feed", "ghost_webhook"):
            raise ConfigError(s.key("kind"), f"expected 'feed' or 'ghost_webhook', got {kind!r}")
        secret = webhook_secret(s.string("secret"), s.key("secret"))
        if kind == "ghost_webhook" and secret is None:
            raise ConfigError(s.key("secret"), "is required for a ghost_webhook source (the "
                              "secret set on the webhook in Ghost's admin)")
        out.append(
            SourceConfig(
                name=name,
                # A Ghost webhook source needs no feed; given one, it is polled as well.
                url=s.url("url", "" if kind == "ghost_webhook" else None,
                          required=kind == "feed"),
                kind=kind,
                secret=secret,
                poll_interval=max(s.duration("poll_interval", 300.0), 1.0),
                backfill=s.flag("backfill", False),
                timeout=s.duration("timeout", 20.0),
                max_bytes=s.integer("max_bytes", 10 * 1024 * 1024, minimum=1024),
                flood_limit=s.integer("flood_limit", 5, minimum=1),
                websub=s.flag("websub", True),
                allow_private=s.flag("allow_private", fetch.allow_private),
            )
        )
        s.unknown({"name", "url", "poll_interval", "backfill", "enabled", "timeout",
                   "max_bytes", "flood_limit", "websub", "allow_private", "kind", "secret"})
    return tuple(out)


COMMON_TARGET_KEYS = {"name", "kind", "enabled", "timeout", "max_attempts", "delay", "per_task"}


def _targets(data: Any) -> tuple[TargetConfig, ...]:
    """The keys every target has; each adapter's own options stay raw here, for the target
    registry to check (`syndicate.targets.check`): the config knows no adapter."""
    if data is None:
        return ()
    if not isinstance(data, list):
        raise ConfigError("targets", "expected [[targets]] tables")
    out, seen = [], set[str]()
    for i, raw in enumerate(data):
        s = Section(raw, f"targets[{i}]")
        name = _name(s, seen)
        s.where = f"targets[{name}]"
        out.append(
            TargetConfig(
                name=name,
                kind=s.string("kind", required=True),
                enabled=s.flag("enabled", True),
                timeout=s.duration("timeout", 30.0),
                max_attempts=s.integer("max_attempts", 8, minimum=1),
                delay=s.duration("delay", 0.0),
                per_task=s.integer("per_task", None, minimum=1),
                options={k: v for k, v in raw.items() if k not in COMMON_TARGET_KEYS},
            )
        )
    return tuple(out)


def _redis(data: Any, env: dict[str, str] | os._Environ[str]) -> RedisConfig:
    s = Section(data or {}, "redis")
    cfg = RedisConfig(
        url=env.get("REDIS_URL") or s.string("url"),
        prefix=env.get(PREFIX_ENV) or s.string("prefix", DEFAULT_PREFIX),
    )
    s.unknown({"url", "prefix"})
    return cfg


def _worker(data: Any) -> WorkerConfig:
    s = Section(data or {}, "worker")
    cfg = WorkerConfig(
        retry_base=s.duration("retry_base", 10.0),
        retry_cap=s.duration("retry_cap", 6 * 3600.0),
        tick=max(s.duration("tick", 5.0), 0.2),
        visibility_timeout=s.duration("visibility_timeout", 3600.0),
        concurrency=s.integer("concurrency", 4, minimum=1),
        lease_margin=s.duration("lease_margin", 30.0),
        processes=_processes(s),
    )
    s.unknown({"retry_base", "retry_cap", "tick", "visibility_timeout", "concurrency",
               "lease_margin", "processes"})
    return cfg


def _processes(s: Section) -> int:
    # "auto": two processes a core, with 32 threads each the shape that delivered most per unit
    # of Celery's own cost in the fan-out benchmark's runs so far (bench/RESULTS.md).
    value = s.raw("processes")
    if isinstance(value, str) and value.strip().lower() == "auto":
        return 2 * (os.cpu_count() or 1)
    return s.integer("processes", 1, minimum=1)


def parse(data: dict[str, Any], env: dict[str, str] | os._Environ[str] | None = None,
          path: Path | None = None) -> Config:
    env = os.environ if env is None else env
    data = expand_env(data, env)
    top = Section(data, "")
    top.unknown({"site", "webhook", "sources", "targets", "redis", "worker", "fetch", "admin"})
    fetch = _fetch(data.get("fetch"))
    return Config(
        site=_site(data.get("site")),
        webhook=_webhook(data.get("webhook")),
        sources=_sources(data.get("sources"), fetch),
        fetch=fetch,
        targets=_targets(data.get("targets")),
        redis=_redis(data.get("redis"), env),
        worker=_worker(data.get("worker")),
        admin=_admin(data.get("admin")),
        path=path,
    )


def secrets(cfg: Config) -> list[str]:
    """The config's own secrets (webhook, admin, Redis password); `syndicate.targets.secrets`
    adds each target's."""
    out = []
    if cfg.webhook.secret:
        out += [cfg.webhook.secret.decode(errors="replace"),
                base64.b64encode(cfg.webhook.secret).decode()]
    out += [s for s in (cfg.admin.password, cfg.admin.token) if s]
    url = cfg.redis.url or ""
    if "@" in url and ":" in url.split("@", 1)[0].rsplit("/", 1)[-1]:
        out.append(url.split("@", 1)[0].rsplit(":", 1)[-1])  # a Redis password
    return [s for s in out if s]


def missing(cfg: Config) -> bool:
    """True when no config file exists yet (an empty config stands in for it)."""
    return cfg.path is not None and not cfg.path.exists()


def warnings(cfg: Config) -> list[str]:
    """What the config leaves switched off for want of a secret: said once at start."""
    out = []
    if missing(cfg):
        return [f"no config yet at {cfg.path}: nothing is polled or sent. Run `syndicate init "
                "--source YOUR_FEED_URL` to write one, then start again"]
    if not cfg.webhook.secret:
        out.append("the publish webhook (POST /hooks/publish) is off: set [webhook] secret "
                   "(e.g. SYNDICATE_WEBHOOK_SECRET) to turn it on")
    if not cfg.admin.enabled:
        out.append("the status page is off: set [admin] password (e.g. SYNDICATE_ADMIN_PASSWORD) "
                   "to turn it on")
    return out


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and check the config: `path`, else `$SYNDICATE_CONFIG`, else `config/syndicate.toml`.

    No file at the default place is not an error: a new installation runs with nothing to
    poll (serving an empty feed) until `syndicate init` writes one; `missing()` says so."""
    p = config_path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        if p.resolve() == DEFAULT_CONFIG_PATH.resolve():
            return parse({}, path=p.resolve())
        raise ConfigError(str(p), "config file not found (use --config or $SYNDICATE_CONFIG)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), f"not valid TOML: {exc}") from None
    return parse(data, path=p.resolve())


def load_env(path: Path) -> int:
    """Set the variables a `.env` file names that the environment does not already have (as
    docker compose does). Returns how many it set."""
    if not path.is_file():
        return 0
    n = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.partition("=")
        name, value = name.strip().removeprefix("export ").strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if name and name not in os.environ:
            os.environ[name] = value
            n += 1
    return n
