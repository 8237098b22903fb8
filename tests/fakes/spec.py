"""Every request a stand-in receives, checked against its platform's published API description
(`shared/specs/`): an adapter that drifts from the real API fails its tests, not production.

- OpenAPI (dev.to/Forem 3.0, Buttondown 3.1, listmonk 3.0) with openapi-core;
- Ghost's Admin API post schemas (JSON Schema draft-07) with jsonschema, as Ghost runs them
  (unknown fields are dropped by Ghost, not refused, so they are not errors here either);
- Hashnode's GraphQL schema with graphql-core: the document and its variables.

A stand-in whose platform publishes no description (Medium, Mailchimp, WordPress, which
describes itself at run time) keeps to the documented shapes in its own code.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

from .http import Request

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"


def available() -> bool:
    return SPECS.is_dir()


class SpecCheck:
    """Subclasses say what is wrong with a request, or nothing."""

    def errors(self, request: Request) -> list[str]:
        raise NotImplementedError


@lru_cache(maxsize=8)
def _openapi(path: str) -> Any:
    from openapi_core import Config, OpenAPI

    # The descriptions are published as they are (the community Mastodon one has defaults of
    # the wrong type): requests are checked against them, the documents themselves are not.
    return OpenAPI.from_file_path(path, config=Config(spec_validator_cls=None))


class OpenApiCheck(SpecCheck):
    """`server` is the spec's server URL; `strip` the part of our path the server URL already
    holds (Forem's paths leave out `/api`)."""

    def __init__(self, relpath: str, server: str, strip: str = "") -> None:
        self.path = str(SPECS / relpath)
        self.server = server.rstrip("/")
        self.strip = strip

    def errors(self, request: Request) -> list[str]:
        from openapi_core.contrib.requests import RequestsOpenAPIRequest
        from openapi_core.exceptions import OpenAPIError

        path = request.path.removeprefix(self.strip)
        url = self.server + path + ("?" + urlencode(request.query) if request.query else "")
        headers = {k: v for k, v in request.headers.items()}
        prepared = requests.Request(request.method, url, headers=headers,
                                    data=request.body or None).prepare()
        try:
            _openapi(self.path).validate_request(RequestsOpenAPIRequest(prepared))
        except OpenAPIError as exc:
            cause = exc.__cause__ or exc.__context__
            why = [str(getattr(e, "message", e)) for e in getattr(cause, "schema_errors", ())]
            detail = "; ".join(why) or str(cause or exc)
            return [f"{request.method} {request.path}: {exc.__class__.__name__}: "
                    f"{detail}"[:600]]
        return []


def _json_string(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


class GhostPostCheck(SpecCheck):
    """`POST /posts/` against `posts-add`, `PUT /posts/{id}/` against `posts-edit`."""

    def errors(self, request: Request) -> list[str]:
        import jsonschema
        from referencing import Registry
        from referencing.jsonschema import DRAFT7

        if request.method not in ("POST", "PUT") or "/posts/" not in request.path:
            return []
        folder = SPECS / "ghost" / "admin-api-schema"
        posts = json.loads((folder / "posts.json").read_text())
        which = "posts-add.json" if request.method == "POST" else "posts-edit.json"
        schema = json.loads((folder / which).read_text())
        registry = Registry().with_resource("posts", DRAFT7.create_resource(posts))
        checker = jsonschema.FormatChecker()
        checker.checks("json-string")(_json_string)  # Ghost's own format
        validator = jsonschema.Draft7Validator(schema, registry=registry, format_checker=checker)
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            return [f"{request.method} {request.path}: body is not JSON"]
        out = []
        for err in validator.iter_errors(body):
            if err.validator == "additionalProperties":
                continue  # Ghost drops unknown fields (Ajv removeAdditional), it does not refuse
            out.append(f"{request.method} {request.path}: {'/'.join(map(str, err.path))}: "
                       f"{err.message}"[:400])
        return out


@lru_cache(maxsize=2)
def _graphql_schema(path: str) -> Any:
    from graphql import build_schema

    return build_schema(Path(path).read_text())


class GraphQLCheck(SpecCheck):
    def __init__(self, relpath: str) -> None:
        self.path = str(SPECS / relpath)

    def errors(self, request: Request) -> list[str]:
        from graphql import GraphQLError, OperationDefinitionNode, parse, validate
        from graphql.execution.values import get_variable_values

        if request.method != "POST":
            return [f"{request.method} {request.path}: GraphQL takes POST"]
        try:
            doc = request.json() or {}
            ast = parse(doc.get("query") or "")
        except (ValueError, GraphQLError) as exc:
            return [f"GraphQL document does not parse: {exc}"]
        schema = _graphql_schema(self.path)
        out = [f"GraphQL: {e.message}" for e in validate(schema, ast)]
        for op in ast.definitions:
            if isinstance(op, OperationDefinitionNode):
                values = get_variable_values(schema, op.variable_definitions or [],
                                             doc.get("variables") or {})
                if isinstance(values, list):
                    out += [f"GraphQL variables: {e.message}" for e in values]
        return out
