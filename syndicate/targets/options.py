"""Adapter options: what each `[[targets]]` key may hold, and the one reader that checks them.

An adapter declares its keys as `Option`s; `read_options` checks a target's table against them
when the target registry starts (`syndicate.targets.check`) and raises the same `ConfigError`
the config's own reader does, naming the key: `targets[devto].api_key: ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

COMMON_OPTIONS = ("tags", "footer", "on_edit")


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



def read_options(spec: dict[str, Option], raw: dict[str, Any], where: str, *, kind: str,
                 can_update: bool, newsletter: bool) -> dict[str, Any]:
    """Check `raw` against `spec` (and the options every adapter has); fill the defaults."""
    from ..config import Section  # the config's own typed reader: the same rules, the same words

    section = Section(raw, where)
    known = set(spec) | {"tags", "footer", "on_edit"}
    if newsletter:
        known |= {"mode", "schedule", "timezone"}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{where}.{key}",
                              f"unknown option for kind {kind!r} (known: {sorted(known)})")
    out: dict[str, Any] = {}
    for key, opt in spec.items():
        value = section.raw(key)  # an unset ${VARIABLE} is named here
        if value is None or value == "":
            if opt.required:
                raise ConfigError(f"{where}.{key}", f"is required for kind {kind!r}"
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
        if opt.url:
            section.url(key)  # the config's URL rule
        out[key] = value
    for key in ("tags", "footer", "on_edit"):
        if key in raw:
            out[key] = raw[key]
    if out.get("on_edit") not in (None, "update", "ignore"):
        raise ConfigError(f"{where}.on_edit", f"expected 'update' or 'ignore', got "
                          f"{out['on_edit']!r}")
    if out.get("on_edit") == "update" and not can_update:
        raise ConfigError(f"{where}.on_edit", f"kind {kind!r} cannot edit a post once "
                          "it is published: use 'ignore'")
    if newsletter:
        out.update(_newsletter_options(raw, where))
    if "tags" in out and not isinstance(out["tags"], dict):
        raise ConfigError(f"{where}.tags", "expected a table mapping a source category to "
                          "a tag or a list of tags")
    return out


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
