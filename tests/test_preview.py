"""`syndicate preview`: the exact request per target, secrets masked, nothing sent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from syndicate.preview import previews

from .conftest import OUTBOUND_SECRET
from .fakes.devto import API_KEY, DevtoServer
from .fakes.ghost import ADMIN_KEY, GhostServer
from .fakes.hashnode import PUBLICATION, HashnodeServer
from .fakes.hashnode import TOKEN as HASHNODE_TOKEN
from .fakes.medium import TOKEN as MEDIUM_TOKEN
from .fakes.medium import MediumServer
from .fakes.wordpress import APP_PASSWORD, USER, WordpressServer
from .helpers import new_entry
from .service import write_config

SECRETS = [API_KEY, MEDIUM_TOKEN, HASHNODE_TOKEN, ADMIN_KEY.split(":")[1],
           APP_PASSWORD.replace(" ", ""), "smtp-password"]


def all_targets(servers: dict[str, object], smtp_port: int = 2525) -> list[dict[str, object]]:
    s = servers
    return [
        {"name": "devto", "kind": "devto", "api_key": API_KEY, "base_url": s["devto"].url},
        {"name": "medium", "kind": "medium", "token": MEDIUM_TOKEN, "base_url": s["medium"].url},
        {"name": "hashnode", "kind": "hashnode", "token": HASHNODE_TOKEN,
         "publication_id": PUBLICATION, "base_url": s["hashnode"].url},
        {"name": "ghost", "kind": "ghost", "admin_url": s["ghost"].url, "admin_key": ADMIN_KEY},
        {"name": "wordpress", "kind": "wordpress", "base_url": s["wordpress"].url,
         "username": USER, "app_password": APP_PASSWORD},
        {"name": "mail", "kind": "smtp", "host": "127.0.0.1", "port": smtp_port,
         "security": "starttls", "username": "u", "password": "smtp-password",
         "from": "Sanjay <posts@home.example>", "to": ["r@home.example"]},
    ]


def start_all() -> dict[str, object]:
    return {"devto": DevtoServer().start(), "medium": MediumServer().start(),
            "hashnode": HashnodeServer().start(), "ghost": GhostServer().start(),
            "wordpress": WordpressServer().start()}


def test_preview_every_target_sends_nothing(make_runtime) -> None:
    servers = start_all()
    try:
        rt, _ = make_runtime(targets=all_targets(servers))
        eid = new_entry(rt, fan_out=False)
        shown = {p.target: p.text for p in previews(rt, rt.store.get(eid))}
        assert set(shown) == {"devto", "medium", "hashnode", "ghost", "wordpress", "mail"}
        for server in servers.values():
            assert server.requests_seen == 0
        everything = "\n".join(shown.values())
        for secret in SECRETS:
            assert secret not in everything
        assert shown["devto"].startswith(f"POST {servers['devto'].url}/api/articles\n")
        assert "api-key: ********" in shown["devto"]
        body = json.loads(shown["devto"].split("\n\n", 1)[1])
        assert body["article"]["canonical_url"] == "https://mind.blogspot.example/2025/12/post-1.html"
        assert "Authorization: Ghost ********" in shown["ghost"]
        assert "source=html" in shown["ghost"].splitlines()[0]
        assert "{authorId from GET /v1/me}" in shown["medium"]
        assert "{id of tag 'AI', created if missing}" in shown["wordpress"]
        assert "Authorization: Basic ********" in shown["wordpress"]
        assert "Subject: Post 1" in shown["mail"]
    finally:
        for server in servers.values():
            server.stop()


def test_preview_cli(tmp_path: Path, redis_url: str, prefix: str, make_runtime) -> None:
    servers = start_all()
    try:
        rt, _ = make_runtime(targets=all_targets(servers))
        eid = new_entry(rt, fan_out=False)
        cfg = write_config(tmp_path / "c.toml", sources=[], targets=all_targets(servers),
                           webhook_secret=OUTBOUND_SECRET)
        env = {"REDIS_URL": redis_url, "SYNDICATE_REDIS_PREFIX": prefix, "PATH": "/usr/bin:/bin"}
        out = subprocess.run(
            [sys.executable, "-m", "syndicate", "preview", "--config", str(cfg),
             "https://mind.blogspot.example/2025/12/post-1.html", "--target", "mail",
             "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("=== mail (smtp) ===")
        assert "smtp-password" not in out.stdout
        html = (tmp_path / "out" / f"mail-{eid}.html").read_text()
        assert 'href="https://mind.blogspot.example/2025/12/post-1.html"' in html
        missing = subprocess.run(
            [sys.executable, "-m", "syndicate", "preview", "--config", str(cfg), "nope"],
            capture_output=True, text=True, env=env, timeout=60)
        assert missing.returncode != 0 and "no entry is known by 'nope'" in missing.stderr
    finally:
        for server in servers.values():
            server.stop()
