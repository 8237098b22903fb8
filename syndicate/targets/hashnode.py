"""Hashnode (GraphQL).

Follows https://apidocs.hashnode.com/ : one endpoint, `POST {query, variables}` with
`Authorization: Bearer <PAT>`; `publishPost(input: {publicationId, title, contentMarkdown, tags,
originalArticleURL, ...})`, `updatePost(input: {id, ...})`, and the publication's posts (with
`canonicalUrl`) to find a copy before creating one. An answer of HTTP 200 with an `errors` array
is still a failure; its `extensions.code` says which. Writes need a Pro publication since 2026:
`FORBIDDEN` is permanent and never retried.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import requests

from .. import content, identity
from ..entry import Entry
from ..errors import PermanentError, TargetBroken, TransientError
from ..verify import Copy
from .base import Attempt, DeliveryResult
from .http import HttpTarget
from .options import Option

PAGE = 20
TAGS_MAX = 5

POST_QUERY = """
query Post($id: ID!) {
  post(id: $id) { id title content { markdown } }
}
"""

POSTS_QUERY = """
query Posts($id: ObjectId!, $first: Int!, $after: String) {
  publication(id: $id) {
    posts(first: $first, after: $after) {
      edges { node { id url canonicalUrl } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""

PUBLISH = """
mutation Publish($input: PublishPostInput!) {
  publishPost(input: $input) { post { id slug url canonicalUrl } }
}"""

UPDATE = """
mutation Update($input: UpdatePostInput!) {
  updatePost(input: $input) { post { id slug url canonicalUrl } }
}"""


def tag_slug(tag: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")


class HashnodeTarget(HttpTarget):
    kind = "hashnode"
    default_base_url = "https://gql.hashnode.com"
    safe_to_resend = True  # the publication's posts are looked up by canonical URL first
    can_update = True
    embed_syntax = "%[{url}]"  # Hashnode's embed for videos and other iframes
    options: ClassVar[dict[str, Option]] = {
        "token": Option(str, required=True, secret=True, help="a personal access token"),
        "publication_id": Option(str, required=True),
        "base_url": Option(str, default="https://gql.hashnode.com", url=True),
    }

    def auth(self, request: requests.Request) -> None:
        request.headers["Authorization"] = f"Bearer {self.opts['token']}"

    def graphql(self, query: str, variables: dict[str, Any], *, creates: bool = False,
                writes: bool = False) -> dict[str, Any]:
        resp = self.call(requests.Request("POST", self.base_url,
                                          json={"query": query, "variables": variables}),
                         creates=creates, writes=writes)
        body = resp.json()
        errors = body.get("errors") or []
        if errors:
            self.raise_for(errors, resp)
        return body.get("data") or {}

    def raise_for(self, errors: list[dict[str, Any]], resp: requests.Response) -> None:
        first = errors[0]
        code = (first.get("extensions") or {}).get("code", "")
        message = f"Hashnode {code or 'error'}: {first.get('message', '')}"
        if code == "FORBIDDEN":
            raise PermanentError(message + " (publishing through the API needs a Hashnode Pro "
                                 "publication; this will not be retried)", response=resp)
        if code == "UNAUTHENTICATED":
            raise TargetBroken(message, response=resp)
        if code in ("INTERNAL_SERVER_ERROR", "TOO_MANY_REQUESTS"):
            raise TransientError(message, response=resp)
        raise PermanentError(message, response=resp)

    def find_existing(self, entry: Entry) -> DeliveryResult | None:
        want = identity.normalize_url(entry.link)
        after: str | None = None
        while True:
            data = self.graphql(POSTS_QUERY, {"id": self.opts["publication_id"], "first": PAGE,
                                              "after": after})
            posts = ((data.get("publication") or {}).get("posts") or {})
            for edge in posts.get("edges") or []:
                node = edge.get("node") or {}
                if identity.normalize_url(node.get("canonicalUrl") or "") == want:
                    return DeliveryResult(remote_id=node["id"], remote_url=node.get("url") or "",
                                          adopted=True)
            info = posts.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return None
            after = info.get("endCursor")

    def sent_copy(self, entry: Entry) -> Copy:
        return Copy(content.shorten(entry.title, 250), self.body_markdown(entry))

    def read_back(self, remote_id: str) -> Copy | None:
        post = (self.graphql(POST_QUERY, {"id": remote_id}) or {}).get("post") or {}
        return Copy(post.get("title") or "", (post.get("content") or {}).get("markdown") or "")

    def post_input(self, entry: Entry) -> dict[str, Any]:
        tags = self.tags(entry, limit=TAGS_MAX, normalise=str.strip)
        data: dict[str, Any] = {
            "title": content.shorten(entry.title, 250),
            "contentMarkdown": self.body_markdown(entry),
            "originalArticleURL": entry.link,
            "tags": [{"slug": tag_slug(t), "name": t} for t in tags if tag_slug(t)],
        }
        if entry.image:
            data["coverImage"] = entry.image
        return data

    def send(self, entry: Entry, attempt: Attempt) -> DeliveryResult:
        data = self.graphql(PUBLISH, {"input": {"publicationId": self.opts["publication_id"],
                                                **self.post_input(entry)}}, creates=True)
        post = (data.get("publishPost") or {}).get("post") or {}
        return DeliveryResult(remote_id=post.get("id", ""), remote_url=post.get("url") or "")

    def update(self, entry: Entry, remote_id: str, attempt: Attempt) -> DeliveryResult:
        data = self.graphql(UPDATE, {"input": {"id": remote_id, **self.post_input(entry)}},
                            writes=True)
        post = (data.get("updatePost") or {}).get("post") or {}
        return DeliveryResult(remote_id=post.get("id", remote_id), remote_url=post.get("url") or "")

    # `send` is overridden, so the request/response hooks are only used by `preview`.
    def build_request(self, entry: Entry, attempt: Attempt) -> requests.Request:
        return requests.Request("POST", self.base_url, json={
            "query": PUBLISH, "variables": {"input": {
                "publicationId": self.opts["publication_id"], **self.post_input(entry)}}})

    def parse_response(self, resp: requests.Response, entry: Entry) -> DeliveryResult:
        raise NotImplementedError  # pragma: no cover
