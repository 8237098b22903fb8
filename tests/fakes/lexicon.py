"""A small AT Protocol lexicon checker: a record or procedure input against the lexicon files in
`shared/specs/bluesky` (objects, required fields, strings with maxLength/maxGraphemes/formats,
integers, arrays, refs, unions, blobs). Lexicons are not JSON Schema; this checks the parts our
records use, and says where a value breaks a rule."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import regex

from .spec import SPECS


@lru_cache(maxsize=1)
def lexicons() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for path in (SPECS / "bluesky").rglob("*.json"):
        doc = json.loads(path.read_text())
        out[doc["id"]] = doc
    return out


def _resolve(ref: str, here: str) -> tuple[str, dict[str, Any]] | None:
    nsid, _, name = ref.partition("#")
    nsid = nsid or here
    doc = lexicons().get(nsid)
    if doc is None:
        return None
    return nsid, doc["defs"].get(name or "main", {})


def check(value: Any, schema: dict[str, Any], here: str, path: str = "") -> list[str]:
    kind = schema.get("type")
    where = path or "$"
    if kind in ("record",):
        return check(value, schema["record"], here, path)
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: expected an object"]
        errors = [f"{where}.{k}: required" for k in schema.get("required", []) if k not in value]
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                errors += check(value[key], sub, here, f"{where}.{key}")
        return errors
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        errors = []
        if "maxLength" in schema and len(value.encode()) > schema["maxLength"]:
            errors.append(f"{where}: longer than {schema['maxLength']} bytes")
        if "maxGraphemes" in schema and len(regex.findall(r"\X", value)) > schema["maxGraphemes"]:
            errors.append(f"{where}: more than {schema['maxGraphemes']} graphemes")
        fmt = schema.get("format")
        if fmt == "datetime":
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                errors.append(f"{where}: not a datetime")
        if fmt == "uri" and ":" not in value:
            errors.append(f"{where}: not a URI")
        return errors
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        if ok and "minimum" in schema and value < schema["minimum"]:
            return [f"{where}: below {schema['minimum']}"]
        return [] if ok else [f"{where}: expected an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: expected an array"]
        errors = []
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{where}: more than {schema['maxLength']} items")
        for i, item in enumerate(value):
            errors += check(item, schema.get("items", {}), here, f"{where}[{i}]")
        return errors
    if kind == "ref":
        found = _resolve(schema["ref"], here)
        return [] if found is None else check(value, found[1], found[0], path)
    if kind == "union":
        if not isinstance(value, dict) or "$type" not in value:
            return [f"{where}: a union value needs $type"]
        def full(ref: str) -> str:  # "#link" is this lexicon's; "a.b.c" is "a.b.c#main"
            ref = here + ref if ref.startswith("#") else ref
            return ref if "#" in ref else ref + "#main"

        refs = [full(r) for r in schema.get("refs", [])]
        wanted = value["$type"]
        if full(wanted) not in refs:
            return [f"{where}: $type {wanted} is not one of {refs}"]
        found = _resolve(wanted, here)
        return [] if found is None else check(value, found[1], found[0], path)
    if kind == "blob":
        ok = isinstance(value, dict) and value.get("$type") == "blob" and "ref" in value
        return [] if ok else [f"{where}: expected a blob"]
    return []  # unknown, cid-link and the like: anything


def check_record(record: Any) -> list[str]:
    """A record by its own `$type` (e.g. app.bsky.feed.post)."""
    if not isinstance(record, dict) or "$type" not in record:
        return ["$: a record needs $type"]
    found = _resolve(record["$type"], record["$type"])
    if found is None:
        return [f"$: no lexicon for {record['$type']}"]
    return check(record, found[1], found[0])


def check_input(nsid: str, body: Any) -> list[str]:
    """A procedure's input (e.g. com.atproto.repo.createRecord)."""
    found = _resolve(nsid, nsid)
    if found is None:
        return [f"no lexicon for {nsid}"]
    schema = (found[1].get("input") or {}).get("schema") or {}
    return check(body, schema, found[0])
