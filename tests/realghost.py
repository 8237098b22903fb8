"""A real Ghost 5 for the tests: installed once from the npm registry into a cache folder outside
the checkout (reused while the version matches), a fresh SQLite site per test session on a free
loopback port, an owner and an integration's Admin API key made through the API.

`python -m tests.realghost` installs it ahead of time (CI does, before the suite). Where Node,
npm or the registry are missing, `RealGhost.start()` raises `Unavailable` with the reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from .fakes.smtp import free_port
from .realproxy import Unavailable

VERSION = "5.130.6"  # the last Ghost 5: Ghost 6 needs Node 22
CACHE = Path(os.environ.get("SYNDICATE_TEST_CACHE")
             or Path.home() / ".cache" / "syndicate-tests") / f"ghost-{VERSION}"


def _run(argv: list[str], cwd: Path, timeout: float) -> None:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "npm_config_nodedir": "/usr"})
    if done.returncode != 0:
        raise Unavailable(f"{' '.join(argv[:3])} failed: {(done.stderr or done.stdout)[-400:]}")


def install() -> Path:
    """Ghost installed under CACHE (once): `npm pack`, then the two package.json changes npm
    needs (no devDependencies; yarn's `resolutions` as npm `overrides`), then an install."""
    ready = CACHE / ".installed"
    if ready.exists():
        return CACHE
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Unavailable(f"{tool} is not installed (apt-get install nodejs npm)")
    work = Path(tempfile.mkdtemp(prefix="ghost-pack-"))
    try:
        _run(["npm", "pack", f"ghost@{VERSION}", "--silent"], work, 300)
        (tarball,) = work.glob("ghost-*.tgz")
        with tarfile.open(tarball) as tar:
            tar.extractall(work, filter="data")
        package = work / "package"
        meta = json.loads((package / "package.json").read_text())
        meta.pop("devDependencies", None)
        resolutions = meta.pop("resolutions", {}) or {}
        resolutions.pop("@tryghost/i18n", None)
        meta["overrides"] = resolutions
        (package / "package.json").write_text(json.dumps(meta, indent=2))
        _run(["npm", "install", "--omit=dev", "--legacy-peer-deps", "--no-audit", "--no-fund"],
             package, 1500)
        if CACHE.exists():
            shutil.rmtree(CACHE)
        CACHE.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(package), CACHE)
        (CACHE / ".installed").write_text(VERSION)
        return CACHE
    finally:
        shutil.rmtree(work, ignore_errors=True)


class RealGhost:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.site = Path(tempfile.mkdtemp(prefix="syndicate-ghost-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.admin_key = ""
        self.email = "owner@home.example"
        self.password = "Owner-" + secrets.token_hex(8)
        self.log = self.site / "ghost.log"

    def start(self) -> RealGhost:
        installed = install()
        (self.site / "current").symlink_to(installed)
        shutil.copytree(installed / "content", self.site / "content")
        (self.site / "config.development.json").write_text(json.dumps({
            "url": self.url,
            "server": {"host": "127.0.0.1", "port": self.port},
            "database": {"client": "sqlite3", "useNullAsDefault": True,
                         "connection": {"filename": str(self.site / "content" / "data" /
                                                        "ghost.db")}},
            "paths": {"contentPath": str(self.site / "content")},
            "mail": {"transport": "stub"},
            "privacy": {"useTinfoil": True},
            "security": {"staffDeviceVerification": False},
            "logging": {"level": "warn", "transports": ["stdout"]},
        }))
        self.proc = subprocess.Popen(
            ["node", "current/index.js"], cwd=self.site, env={**os.environ,
                                                               "NODE_ENV": "development"},
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable(f"Ghost exited: {self.log.read_text()[-500:]}")
            try:
                if requests.get(self.url + "/ghost/api/admin/site/", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            self.stop()
            raise Unavailable("Ghost did not answer within 120 s")
        self._credentials()
        return self

    def _credentials(self) -> None:
        api = self.url + "/ghost/api/admin"
        origin = {"Origin": self.url}
        resp = requests.post(api + "/authentication/setup/", headers=origin, timeout=60, json={
            "setup": [{"name": "Owner", "email": self.email, "password": self.password,
                       "blogTitle": "Entropic Notes"}]})
        resp.raise_for_status()
        session = requests.Session()
        session.post(api + "/session/", headers=origin, timeout=30,
                     json={"username": self.email, "password": self.password}).raise_for_status()
        made = session.post(api + "/integrations/", headers=origin, timeout=30,
                            json={"integrations": [{"name": "syndicate"}]})
        made.raise_for_status()
        keys = made.json()["integrations"][0]["api_keys"]
        key = next(k for k in keys if k["type"] == "admin")
        # Ghost 5 answers the admin key's secret already as the full `id:hexsecret`.
        secret = str(key["secret"])
        self.admin_key = secret if ":" in secret else f"{key['id']}:{secret}"
        self.session = session

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc = None
        shutil.rmtree(self.site, ignore_errors=True)

    # -- reading the site, as the tests need it ---------------------------------------------
    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("timeout", 30)
        kw.setdefault("headers", {"Origin": self.url})
        return self.session.request(method, self.url + "/ghost/api/admin" + path, **kw)

    def posts(self) -> list[dict[str, Any]]:
        resp = self.api("GET", "/posts/", params={"limit": "all", "formats": "html",
                                                  "filter": "status:[published,draft,scheduled]"})
        resp.raise_for_status()
        return list(resp.json()["posts"])

    def reset(self) -> None:
        for post in self.posts():
            self.api("DELETE", f"/posts/{post['id']}/")


if __name__ == "__main__":
    started = time.monotonic()
    print(f"Ghost {VERSION} in {install()} ({time.monotonic() - started:.0f} s)")
