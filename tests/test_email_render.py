"""The default email, for each fixture post, rendered and screenshotted by headless Chromium
(Debian's `chromium`): the page has the title, its images load, and it links home."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from syndicate.config import SiteConfig
from syndicate.entry import Entry
from syndicate.mail import render_email

from .fakes.feeds import FeedServer
from .fakes.http import Reply, Request
from .test_fidelity import POSTS

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
SHOTS = Path(__file__).resolve().parent.parent / ".artifacts" / "email"


def png(width: int = 64, height: int = 40) -> bytes:
    row = b"\x00" + b"\x33\x66\x99" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                               0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


class Pages(FeedServer):
    """Serves the email and answers every image path with a small PNG."""

    def handle(self, request: Request) -> Reply:
        if request.path in self.feeds:
            return Reply(200, self.feeds[request.path], content_type="text/html; charset=utf-8")
        return Reply(200, png(), content_type="image/png")


LOADED = """<script>
addEventListener('load', () => {
  const ok = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.setAttribute('data-images-loaded', ok);
});
</script>"""


def chromium(url: str, profile: Path, *args: str) -> str:
    assert CHROMIUM is not None
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}",
           # Nothing but the loopback server is ever looked up.
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
           "--virtual-time-budget=3000", *args, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90).stdout


@pytest.mark.parametrize("post", POSTS, ids=[p.title[:30] for p in POSTS])
def test_email_in_a_browser(post: Entry, tmp_path: Path) -> None:
    server = Pages().start()
    try:
        post.id = post.id or "e" * 16
        html, _ = render_email(post, SiteConfig(title="Sanjay Basu"))
        # Images are fetched from the loopback server instead of the blogs' hosts.
        local = re.sub(r'src="https?://[^/"]+', f'src="{server.url}', html)
        server.put("/email.html", local.replace("</body>", LOADED + "</body>").encode())
        images = re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", local)
        dom = chromium(server.url + "/email.html", tmp_path / "p1", "--dump-dom")
        SHOTS.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r'[^a-z0-9]+', '-', post.title.lower())[:40]
        shot = SHOTS / f"{slug}-{post.post_id.rsplit(':', 1)[-1]}.png"
        chromium(server.url + "/email.html", tmp_path / "p2", f"--screenshot={shot}",
                 "--window-size=700,1600")
    finally:
        server.stop()
    assert f"<title>{post.title}</title>".replace("&", "&amp;") in dom or post.title in dom
    assert f'href="{post.link}"' in dom  # links home, more than once
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert loaded and int(loaded.group(1)) == len(images) and len(images) >= (
        1 if "<img" in post.body_html else 0)
    assert shot.stat().st_size > 5000  # a real picture, not an empty page

