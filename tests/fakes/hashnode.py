"""Behaves as Hashnode's GraphQL API does (its public API docs): one endpoint, Bearer PAT,
HTTP 200 with `errors[].extensions.code` for failures, a publication's posts paged with
`first`/`after`, and `FORBIDDEN` for writes without a Pro plan."""

from __future__ import annotations

import re
from typing import Any

from .http import Reply, Request
from .platform import Platform
from .spec import GraphQLCheck, available

TOKEN = "hashnode-pat"
PUBLICATION = "65a1b2c3d4e5f60718293a4b"


def gql_error(code: str, message: str) -> Reply:
    return Reply(200, {"data": None, "errors": [{"message": message,
                                                 "extensions": {"code": code}}]})


class HashnodeServer(Platform):
    spec = GraphQLCheck("hashnode/gql-skill/schema.graphql") if available() else None
    def __init__(self, *, pro: bool = True) -> None:
        super().__init__()
        self.pro = pro

    def handle(self, request: Request) -> Reply | None:
        if request.method != "POST" or request.path not in ("", "/"):
            return Reply(404, b"not found")
        body = request.json() or {}
        query, variables = body.get("query") or "", body.get("variables") or {}
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return gql_error("UNAUTHENTICATED", "You must be logged in.")
        if "publishPost" in query:
            return self.write(request, lambda: self._publish(variables.get("input") or {}))
        if "updatePost" in query:
            return self.write(request, lambda: self._update(variables.get("input") or {}))
        if "publication(" in query:
            return self._posts(variables)
        if "post(id:" in query:
            post = next((p for p in self.posts if p["id"] == variables.get("id")), None)
            return Reply(200, {"data": {"post": post and {
                "id": post["id"], "title": post.get("title", ""),
                "content": {"markdown": post.get("contentMarkdown", "")}}}})
        return gql_error("BAD_USER_INPUT", "Unknown operation.")

    def _validate(self, data: dict[str, Any]) -> Reply | None:
        if not self.pro:
            return gql_error("FORBIDDEN", "Publishing via the API requires Hashnode Pro.")
        if not (data.get("title") or "").strip():
            return gql_error("BAD_USER_INPUT", "Title is required.")
        if "contentHTML" in data or not data.get("contentMarkdown"):
            return gql_error("BAD_USER_INPUT", "contentMarkdown is required.")
        for tag in data.get("tags") or []:
            if not re.fullmatch(r"[a-z0-9-]+", tag.get("slug", "")) or not tag.get("name"):
                return gql_error("BAD_USER_INPUT", f"Invalid tag {tag!r}.")
        return None

    def _publish(self, data: dict[str, Any]) -> Reply:
        if data.get("publicationId") != PUBLICATION:
            return gql_error("NOT_FOUND", "Publication not found.")
        invalid = self._validate(data)
        if invalid:
            return invalid
        pid = f"66{len(self.posts):022x}"
        slug = re.sub(r"[^a-z0-9]+", "-", data["title"].lower()).strip("-")
        post = {"id": pid, "slug": slug, "url": f"{self.url}/{slug}",
                "canonicalUrl": data.get("originalArticleURL"), **data}
        self.posts.append(post)
        return Reply(200, {"data": {"publishPost": {"post": {
            k: post[k] for k in ("id", "slug", "url", "canonicalUrl")}}}})

    def _update(self, data: dict[str, Any]) -> Reply:
        post = next((p for p in self.posts if p["id"] == data.get("id")), None)
        if post is None:
            return gql_error("NOT_FOUND", "Post not found.")
        invalid = self._validate(data)
        if invalid:
            return invalid
        post.update({k: v for k, v in data.items() if k != "id"})
        post["canonicalUrl"] = data.get("originalArticleURL", post["canonicalUrl"])
        return Reply(200, {"data": {"updatePost": {"post": {
            k: post[k] for k in ("id", "slug", "url", "canonicalUrl")}}}})

    def _posts(self, variables: dict[str, Any]) -> Reply:
        if variables.get("id") != PUBLICATION:
            return Reply(200, {"data": {"publication": None}})
        first = min(int(variables.get("first") or 10), 20)
        start = int(variables.get("after") or 0)
        page = list(reversed(self.posts))[start:start + first]
        edges = [{"node": {"id": p["id"], "url": p["url"], "canonicalUrl": p["canonicalUrl"]}}
                 for p in page]
        more = start + first < len(self.posts)
        return Reply(200, {"data": {"publication": {"posts": {
            "edges": edges, "pageInfo": {"hasNextPage": more,
                                         "endCursor": str(start + first) if more else None}}}}})
