"""The `syndicate` command.

`up` runs everything; `web`, `worker`, `beat` run one part each (production and docker-compose use
these); `poll` polls now; `status` lists deliveries; `retry` and `resolve` settle the ones that
need a person.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import config as config_mod
from .config import Config, load_env
from .embedded import STARTING_ENV
from .errors import ConfigError, SyndicateError

if TYPE_CHECKING:
    from .runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DATA = Path(".syndicate")
# The first targets `syndicate init` can write (syndicate.starter.TARGETS has their keys).
INIT_TARGETS = ("bluesky", "buttondown", "devto", "ghost", "hashnode", "mastodon", "medium",
                "smtp", "webhook", "wordpress")


def setup_logging(level: str = "INFO") -> None:
    from . import logs

    logs.setup(level)


def config_option(f: F) -> F:
    """`--config` and `--data`: every command reads one config and one installation's data."""
    f = click.option(
        "--data", "data_dir", type=click.Path(file_okay=False), default=str(DEFAULT_DATA),
        show_default=True, expose_value=False, callback=_remember_data, is_eager=True,
        help="The installation's data folder: its embedded Redis (when neither REDIS_URL nor "
             "[redis] url is set) and the scheduler's state. The same folder as `up`'s.",
    )(f)
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False),
        help="TOML config (default: $SYNDICATE_CONFIG, else config/syndicate.toml).",
    )(f)


def _remember_data(ctx: click.Context, _param: click.Parameter, value: str) -> str:
    ctx.ensure_object(dict)["data"] = Path(value)
    return value


def data_dir() -> Path:
    ctx = click.get_current_context(silent=True)
    found = ctx.find_object(dict) if ctx else None
    return Path((found or {}).get("data") or DEFAULT_DATA)


_embedded: Any = None  # the embedded Redis this command joined or started, stopped at exit


def _use_embedded_redis(folder: Path) -> str:
    """Join the embedded Redis a running `syndicate up` serves from `folder`, or start it for
    this command's duration. Never another server: a command in a second terminal must see
    the same installation as the `up` in the first."""
    global _embedded
    import atexit

    from .embedded import EmbeddedRedis

    if _embedded is None:
        _embedded = EmbeddedRedis(folder.resolve() / "redis")
        try:
            url = _embedded.start()
        except SyndicateError as exc:
            raise click.ClickException(str(exc)) from None
        atexit.register(_embedded.stop)
        os.environ["REDIS_URL"] = url
    return str(os.environ["REDIS_URL"])


def check_redis(url: str) -> None:
    """Fail in seconds, in one line naming the server and the reason, not in a minute of
    retries and a traceback (`-v` shows it)."""
    import redis as redis_mod

    from .redact import Redactor

    shown = Redactor([url.split("@", 1)[0].rsplit(":", 1)[-1]] if "@" in url else []).redact(url)
    try:
        client = redis_mod.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except (redis_mod.RedisError, OSError, ValueError) as exc:
        logging.getLogger("syndicate").debug("cannot reach Redis", exc_info=True)
        raise click.ClickException(f"cannot reach Redis at {shown}: "
                                   f"{exc.__class__.__name__}: {exc}") from None


def announce(part: str, cfg: Config) -> None:
    """The first lines of a long-running part: what runs, on which config and which Redis.
    The per-tick task lines of Celery go to debug: at info they were half of every minute."""
    from . import __version__
    from .redact import Redactor

    url = cfg.redis.url or ""
    password = url.split("@", 1)[0].rsplit(":", 1)[-1] if "@" in url else ""
    logging.getLogger("syndicate").info(
        "syndicate %s %s starting: config %s, Redis %s", __version__, part, cfg.path,
        Redactor([password]).redact(url), extra={"event": "start", "part": part})
    if logging.getLogger().level > logging.DEBUG:
        for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat"):
            logging.getLogger(name).setLevel(logging.WARNING)


def check_port(host: str, port: int) -> None:
    """Refuse a port another server holds. The HTTP server binds with SO_REUSEPORT, which
    would let a second `syndicate up` start beside the first and share its port silently."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a restart right after a stop must not trip over TIME_WAIT connections;
        # a listener still refuses the bind.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (98, 48):  # EADDRINUSE on Linux, macOS
                raise click.ClickException(f"port {port} is already in use on {host} "
                                           "(another syndicate up or web?)") from None
            raise click.ClickException(f"cannot serve on {host}:{port}: {exc}") from None


def load_config(config_path: str | None, *, embedded: bool = True) -> Config:
    """Load and check the config, or stop with the key that is wrong; then make sure Redis
    answers (the data folder's embedded one when no other is named)."""
    from . import targets

    try:
        cfg = config_mod.load(config_path)
        if embedded and not cfg.redis.url:
            _use_embedded_redis(data_dir())
            cfg = config_mod.load(config_path)
        cfg = targets.check(cfg)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # Children and the worker app read the same file.
    os.environ[config_mod.CONFIG_ENV] = str(cfg.path)
    from . import logs

    logs.mask(targets.secrets(cfg))
    if embedded and not os.environ.get(STARTING_ENV):
        check_redis(cfg.redis.url or "")
    return cfg


def runtime_for(config_path: str | None) -> Runtime:
    import atexit

    from .runtime import Runtime

    rt = Runtime.open(load_config(config_path))
    # Registered after the embedded Redis's stop, so it runs before it (atexit is last in,
    # first out): that server shuts down only when the stopping client is its last one.
    atexit.register(rt.close)
    return rt


@click.group()
@click.version_option(package_name="syndicate")
@click.option("--log-level", default=os.environ.get("SYNDICATE_LOG_LEVEL", "INFO"),
              show_default=True)
@click.option("-v", "--verbose", is_flag=True, help="Debug logs, with tracebacks.")
def main(log_level: str, verbose: bool) -> None:
    """Publish on your own site, syndicate elsewhere: once, with a link home."""
    setup_logging("DEBUG" if verbose else log_level)
    load_env(Path(".env"))  # what `syndicate init` wrote; the environment wins over it


@main.command()
@click.option("--source", "source_url", default=None, metavar="URL",
              help="Your blog's feed (asked for when not given).")
@click.option("--target", "target_kind", default=None,
              type=click.Choice(INIT_TARGETS),
              help="The first place to send posts (asked for when not given).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A target option, e.g. --set url=http://127.0.0.1:9000/hook.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              default=str(config_mod.DEFAULT_CONFIG_PATH), show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
def init(source_url: str | None, target_kind: str | None, settings: tuple[str, ...],
         config_path: str, force: bool) -> None:
    """Write a config for your blog: checks the feed, then writes it and an .env template."""
    from . import starter

    path = Path(config_path)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists already (--force to overwrite it)")
    url = source_url or click.prompt("Your blog's feed URL")
    try:
        checked = starter.check_feed(url)
    except SyndicateError as exc:
        raise click.ClickException(f"cannot read that feed: {exc}") from None
    feed = checked.feed
    click.echo(f"Found {feed.title!r}: {len(feed.entries)} posts. The newest:")
    for e in sorted(feed.entries, key=lambda e: e.published, reverse=True)[:3]:
        click.echo(f"  - {e.title}")
    kind = target_kind or click.prompt("First target", type=click.Choice(INIT_TARGETS),
                                       default="webhook")
    overrides = dict(item.split("=", 1) for item in settings if "=" in item)
    text = starter.render_config(checked, kind, overrides)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    env = Path(".env")
    if not env.exists():
        env.write_text(starter.render_env(text), encoding="utf-8")
        env.chmod(0o600)
        click.echo(f"wrote {path} and {env} (secrets generated; fill in the empty ones)")
    else:
        click.echo(f"wrote {path} ({env} exists: add the variables the config names)")
    click.echo("Posts already in the feed are recorded, not sent: only new ones go out.")
    click.echo("Next: `syndicate doctor` to check it all, then `syndicate up`.")


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="The same plan as GET /api/plan.")
def plan(config_path: str | None, as_json: bool) -> None:
    """The next run as a dry run: what each poll would find, what each target would be sent,
    updated or skip. Sends nothing, writes nothing."""
    from . import plan as plan_mod

    made = plan_mod.make(runtime_for(config_path))
    if as_json:
        click.echo(json.dumps(made.as_dict(), indent=2, ensure_ascii=False))
        return
    for s in made.sources:
        line = f"source {s.source}: {s.status}"
        if s.new or s.changed or s.held:
            line += f" ({len(s.new)} new, {len(s.changed)} changed, {len(s.held)} held)"
        click.echo(line + (f": {s.error}" if s.error else ""))
        for title in s.held:
            click.echo(f"  held    {title}")
    if not made.targets:
        click.echo("nothing to send")
    for t in made.targets:
        click.echo(f"{t.action:<7} {t.target:<14} {t.entry[:60]}" + (f"  ({t.why})" if t.why
                                                                     else ""))


@main.command()
@config_option
@click.argument("part", type=click.Choice(["worker", "beat"]))
def healthcheck(config_path: str | None, part: str) -> None:
    """Exit 0 if a PART (worker or beat) on this host checked in within 30 s (for containers)."""
    # A container runs this every few seconds: Redis and the config only, not the runtime.
    import atexit

    from . import heartbeat
    from .keys import Keys
    from .scripts import connect

    cfg = load_config(config_path)
    r = connect(cfg.redis.address)
    atexit.register(r.close)  # before the embedded Redis's stop, as in runtime_for
    if not heartbeat.alive_here(r, Keys(cfg.redis.prefix), part):
        raise click.ClickException(f"no {part} on this host checked in within 30 s")


@main.command()
@config_option
def doctor(config_path: str | None) -> None:
    """Check the config against the world: Redis, each feed, each target's credentials."""
    from . import doctor as doc

    rt = runtime_for(config_path)
    failed = False
    for check in doc.run(rt):
        click.echo(check.line())
        failed |= not check.ok
    if failed:
        sys.exit(1)


@main.command()
@config_option
@click.argument("source")
@click.option("--url", "hook_url", default=None, metavar="URL",
              help="Where the web app listens (default: [site] url + hooks/publish).")
def hook(config_path: str | None, source: str, hook_url: str | None) -> None:
    """Send a signed publish webhook for SOURCE, as a blog's deploy job would."""
    import json as json_mod
    import secrets as secrets_mod
    from urllib.parse import urljoin

    import requests

    from . import signing

    cfg = load_config(config_path, embedded=False)
    if not cfg.webhook.secret:
        raise click.ClickException("[webhook] secret is not set: the publish webhook is off")
    url = hook_url or urljoin(cfg.site.url, "hooks/publish")
    body = json_mod.dumps({"source": source}).encode()
    headers = signing.headers(cfg.webhook.secret, "msg_" + secrets_mod.token_hex(12), body)
    try:
        resp = requests.post(url, data=body, timeout=15,
                             headers={**headers, "Content-Type": "application/json"})
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach {url}: {exc.__class__.__name__}") from None
    click.echo(f"{resp.status_code} {resp.text.strip()}")
    if resp.status_code >= 300:
        sys.exit(1)


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
def up(config_path: str | None, host: str, port: int) -> None:
    """Run the web app, the workers ([worker] processes, 1 by default) and the scheduler
    (embedded Redis unless REDIS_URL is set)."""
    from . import supervisor

    cfg = load_config(config_path, embedded=False)  # `up` runs the embedded Redis itself
    assert cfg.path is not None
    if cfg.redis.url:
        check_redis(cfg.redis.url)
    check_port(host, port)
    try:
        code = supervisor.run(cfg.path, data_dir(), host, port, cfg.worker.processes)
    except SyndicateError as exc:  # the embedded Redis would not start
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int,
              help="Server processes; each keeps its own rendered feeds.")
@click.option("--threads", default=4, show_default=True, type=int,
              help="Python threads per process for the app (the HTTP side needs none).")
def web(config_path: str | None, host: str, port: int, workers: int, threads: int) -> None:
    """Serve the feeds, the webhook and the API."""
    from granian.constants import Interfaces
    from granian.server import Server

    cfg = load_config(config_path)  # fail here, naming the key, not in a server process
    announce("web", cfg)
    from .web import BIND_ENV, loopback

    weblog = logging.getLogger("syndicate.web")
    for warning in config_mod.warnings(cfg):
        weblog.warning("%s", warning)
    if not cfg.admin.enabled and not loopback(host):
        weblog.warning("the status API (/api/deliveries, /metrics) is off on %s: without an "
                       "[admin] login it is served on loopback addresses only", host)
    os.environ[BIND_ENV] = host  # the server processes decide the same from it
    check_port(host, port)
    weblog.info("serving on http://%s:%d", host, port)
    # Granian's HTTP side is Rust and holds no GIL, so a cached feed costs one Python call and
    # one write; its own log lines go through our handlers and formats.
    server = Server(
        "syndicate.web:app_from_env", factory=True, interface=Interfaces.WSGI, address=host,
        port=port, workers=workers, blocking_threads=threads, websockets=False, log_access=False,
        log_dictconfig={"version": 1, "disable_existing_loggers": False, "formatters": {},
                        "handlers": {}, "loggers": {"_granian": {"propagate": True}}})
    try:
        server.serve()
    except (OSError, RuntimeError) as exc:  # the socket is bound in Rust: "Address already in use"
        raise click.ClickException(
            f"cannot serve on {host}:{port}: {str(exc).splitlines()[0]}") from None


@main.command()
@config_option
@click.option("--concurrency", "-c", type=int, default=None,
              help="Parallel deliveries (default: [worker] concurrency).")
@click.option("--pool", default="threads", show_default=True,
              type=click.Choice(["threads", "prefork", "solo"]),
              help="Deliveries wait on the network, so threads serve them in one process.")
@click.option("--hostname", default=None, help="Celery node name (default: syndicate@HOST:PID).")
@click.option("--events", is_flag=True, help="Send task events (for Flower).")
def worker(config_path: str | None, concurrency: int | None, pool: str,
           hostname: str | None, events: bool) -> None:
    """Run a Celery worker that polls sources and delivers entries."""
    cfg = load_config(config_path)
    announce("worker", cfg)
    from celery.platforms import maybe_drop_privileges
    from celery.utils.nodenames import default_nodename, host_format

    from workers.app import app

    # What `celery worker` does with these options, without its command line: that loads
    # every celery subcommand (the amqp shell brings prompt_toolkit), a seventh of the time
    # to a worker's first poll. quiet: no banner, every line in our log format; announce()
    # said what it would.
    maybe_drop_privileges()
    node = app.Worker(
        hostname=host_format(default_nodename(hostname or f"syndicate@%h:{os.getpid()}")),
        pool_cls=pool, concurrency=concurrency or cfg.worker.concurrency,
        loglevel=logging.getLogger().level, queues=["syndicate"], without_gossip=True,
        without_mingle=True, task_events=events or None, quiet=True)
    node.start()
    sys.exit(node.exitcode)


@main.command()
@config_option
def beat(config_path: str | None) -> None:
    """Run the scheduler: due polls and the delivery reconciler, every [worker] tick."""
    cfg = load_config(config_path)
    announce("beat", cfg)
    from workers.app import app

    folder = data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    from celery.platforms import maybe_drop_privileges

    maybe_drop_privileges()  # what `celery beat` does, without loading its command line
    app.Beat(loglevel=logging.getLogger().level, schedule=str(folder / "celerybeat-schedule"),
             quiet=True).run()


@main.command()
@config_option
@click.argument("source", required=False)
def poll(config_path: str | None, source: str | None) -> None:
    """Poll SOURCE (or every enabled source) now; new entries are queued for delivery."""
    rt = runtime_for(config_path)
    names = [source] if source else [s.name for s in rt.config.polled_sources]
    failed = False
    for name in names:  # every source is polled, whatever happened to the one before
        try:
            result = rt.poll(name)
        except SyndicateError as exc:
            click.echo(f"{name}: error ({exc})", err=True)
            failed = True
            continue
        line = f"{name}: {result.status}, {result.seen} entries in feed, {len(result.new)} new"
        if result.skipped:
            line += f", {len(result.skipped)} skipped"
        if result.error:
            line += f" ({result.error})"
            failed = True
        click.echo(line)
        for why in result.skipped:
            click.echo(f"  skipped {why}")
    if failed:
        sys.exit(1)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the same list as /api/deliveries.")
@click.option("--state", default=None, help="Only deliveries in this state.")
def status(config_path: str | None, as_json: bool, state: str | None) -> None:
    """List deliveries: one line per (entry, target)."""
    rt = runtime_for(config_path)
    items = rt.deliveries()
    if state:
        items = [d for d in items if d["state"] == state]
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    for p in rt.source_problems():
        if p["error"]:
            click.echo(f"source {p['source']}: last poll failed: {p['error']}")
        for why in p["skipped"]:
            click.echo(f"source {p['source']}: entry skipped: {why}")
    if not items:
        click.echo("no deliveries yet")
        return
    for d in items:
        extra = d["remote_url"] or d["last_error"]
        state = "drift" if d["state"] == "delivered" and d["drift"] else d["state"]
        click.echo(f"{state:<9} {d['target']:<14} {d['entry_id']}  {d['title'][:50]:<50}  "
                   f"{extra}")
        if d["drift"]:
            click.echo(f"{'':<9} the platform changed the copy: {d['drift']}")


@main.command()
@config_option
@click.argument("entry", required=False)
@click.option("--target", default=None, help="Only this target.")
def retry(config_path: str | None, entry: str | None, target: str | None) -> None:
    """Send failed, dead or unknown deliveries again (of ENTRY, or all)."""
    from . import actions
    from .ledger import TRANSITIONS

    rt = runtime_for(config_path)
    entry_id = _entry_id(rt, entry) if entry else None
    n = 0
    for d in rt.ledger.all(limit=100000):
        if (entry_id and d.entry_id != entry_id) or (target and d.target != target):
            continue
        if d.state not in TRANSITIONS["retry"][0]:
            continue
        try:
            actions.retry(rt, d.entry_id, d.target)
            n += 1
        except actions.ActionRefused:
            pass  # it moved on meanwhile (a worker took it)
    click.echo(f"{n} deliveries queued again")


@main.command()
@config_option
@click.argument("entry")
@click.argument("target")
@click.option("--delivered", "delivered_url", default=None, metavar="URL",
              help="The target has it, at URL.")
@click.option("--retry", "do_retry", is_flag=True, help="The target does not have it: send it.")
@click.option("--discard", is_flag=True, help="Never send it to this target.")
def resolve(config_path: str | None, entry: str, target: str, delivered_url: str | None,
            do_retry: bool, discard: bool) -> None:
    """Settle an `unknown` (or `dead`) delivery by saying what the target has."""
    from . import actions

    if sum(map(bool, (delivered_url, do_retry, discard))) != 1:
        raise click.UsageError("give exactly one of --delivered URL, --retry, --discard")
    rt = runtime_for(config_path)
    entry_id = _entry_id(rt, entry)
    try:
        if delivered_url:
            message = actions.resolve(rt, entry_id, target, delivered_url)
        elif do_retry:
            message = actions.retry(rt, entry_id, target)
        else:
            message = actions.give_up(rt, entry_id, target)
    except actions.ActionRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(message)


@main.command()
@config_option
@click.argument("entry")
@click.option("--target", default=None, help="Only this target (default: every enabled one).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Also write each email target's HTML and text here.")
def preview(config_path: str | None, entry: str, target: str | None, out_dir: str | None) -> None:
    """Print exactly what each target would be sent for ENTRY (an id or a URL); send nothing."""
    from .preview import previews, write_email_files

    rt = runtime_for(config_path)
    found = rt.store.find(entry)
    if found is None:
        raise click.ClickException(f"no entry is known by {entry!r}")
    if target and rt.config.target(target) is None:
        raise click.ClickException(f"no target named {target!r}")
    for p in previews(rt, found, target):
        click.echo(f"=== {p.target} ({p.kind}) ===")
        if p.note:
            click.echo(p.note)
        click.echo(p.text)
        if out_dir and rt.dispatcher.target(p.target).is_email:
            for path in write_email_files(rt, found, p.target, Path(out_dir)):
                click.echo(f"wrote {path}")


@main.command()
@config_option
@click.argument("source")
@click.option("--since", default=None, metavar="DATE", help="Only posts published on or after "
              "this date (YYYY-MM-DD).")
@click.option("--limit", type=int, default=None, help="Only the newest N of them.")
@click.option("--target", default=None, help="Only this target (a digest target only if named).")
@click.option("--dry-run", is_flag=True, help="List what would be sent; change nothing.")
def backfill(config_path: str | None, source: str, since: str | None, limit: int | None,
             target: str | None, dry_run: bool) -> None:
    """Bring SOURCE's older posts over on purpose: pages back, oldest first."""
    from datetime import UTC, datetime

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from . import backfill as bf

    rt = runtime_for(config_path)
    try:
        start = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() \
            if since else None
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint="--since") from None
    try:
        targets = bf.targets_for(rt, target)
        err = Console(stderr=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      transient=True, console=err, disable=not err.is_terminal) as progress:
            reading = progress.add_task(f"reading {source}", total=None)
            plan = bf.plan(rt, source, since=start, limit=limit, on_page=lambda p, n: progress.update(
                reading, description=f"reading {source}: page {p}, {n} entries"))
            progress.remove_task(reading)
            if dry_run:
                progress.stop()
                held = rt.store.held()
                for e in plan.entries:
                    day = datetime.fromtimestamp(e.published, UTC).strftime("%Y-%m-%d")
                    known = rt.store.find(e.link or e.guid)
                    marks = []
                    for t in targets:  # what each target already has: those are not sent
                        d = rt.ledger.get(known.id, t) if known else None
                        if known and known.id in held:
                            marks.append(f"{t} (held)")
                        elif d is not None:
                            marks.append(f"{t} (already {d.state})")
                        else:
                            marks.append(t)
                    click.echo(f"{day}  {e.title}  ->  {', '.join(marks)}")
                click.echo(f"dry run: {len(plan.entries)} entries from {plan.pages} pages "
                           f"({plan.scheme} paging) would go to {len(targets)} targets")
                return
            task = progress.add_task("queueing", total=len(plan.entries))
            opened = bf.queue(rt, plan.entries, targets,
                              on_entry=lambda e, n: progress.advance(task))
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(plan.entries)} entries from {plan.pages} pages: {opened} deliveries queued "
               f"(oldest first; rate limits apply)")


def _decide(config_path: str | None, ref: str, verb: str) -> None:
    from . import actions

    rt = runtime_for(config_path)
    try:
        done = actions.approve(rt, ref) if verb == "approved" else actions.discard(rt, ref)
    except SyndicateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{len(done)} held entries {verb}" + (" and queued" if verb == "approved" else ""))


@main.command()
@config_option
@click.argument("ref", metavar="SOURCE|ENTRY")
def approve(config_path: str | None, ref: str) -> None:
    """Send entries the flood breaker held (all of SOURCE's, or one ENTRY)."""
    _decide(config_path, ref, "approved")


@main.command()
@config_option
@click.argument("ref", metavar="SOURCE|ENTRY")
def discard(config_path: str | None, ref: str) -> None:
    """Never send entries the flood breaker held (all of SOURCE's, or one ENTRY)."""
    _decide(config_path, ref, "discarded")


def _entry_id(rt: Runtime, ref: str) -> str:
    entry = rt.store.find(ref)
    if entry is None:
        raise click.ClickException(f"no entry is known by {ref!r}")
    return str(entry.id)


if __name__ == "__main__":
    main()
