"""The status page in a real browser: Debian's chromium, driven by Playwright, through a login,
a retry and an approval, with screenshots saved to `.artifacts/status/`."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from syndicate.web import create_app

from .fakes.http import Reply
from .fakes.smtp import free_port
from .helpers import new_entry
from .test_admin import PASSWORD
from .test_dispatcher import devto_target
from .test_flood import posts

CHROMIUM = shutil.which("chromium")
playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
SHOTS = Path(__file__).resolve().parent.parent / ".artifacts" / "status"


def test_login_retry_and_approve(make_runtime, feed_server, devto, smtp) -> None:
    from werkzeug.serving import make_server

    url = feed_server.put("/feed", posts(0))
    rt, q = make_runtime(
        sources=[{"name": "blogger", "url": url, "flood_limit": 2}],
        targets=[devto_target(devto, max_attempts=1),
                 {"name": "newsletter", "kind": "smtp", "host": "127.0.0.1", "port": smtp.port,
                  "security": "none", "from": "s@home.example", "to": ["r@home.example"]}],
        admin={"password": PASSWORD},
        site={"title": "Sanjay Basu", "url": "http://127.0.0.1:8080/"})
    rt.poll("blogger")
    ok, bad = new_entry(rt, 1, title="The Synthetic Mind"), new_entry(rt, 2, title="Thanatos")
    rt.dispatcher.deliver(ok, "devto")
    rt.dispatcher.deliver(ok, "newsletter")
    devto.faults.append(Reply(422, {"error": "Body markdown has already been taken",
                                    "status": 422}))
    rt.dispatcher.deliver(bad, "devto")
    feed_server.put("/feed", posts(3))
    assert len(rt.poll("blogger").held) == 3

    port = free_port()
    server = make_server("127.0.0.1", port, create_app(rt), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.goto(base + "/")
            assert page.url.startswith(base + "/login")
            page.fill("input[name=password]", PASSWORD)
            page.screenshot(path=str(SHOTS / "1-login.png"))
            page.click("button[type=submit]")
            page.wait_for_selector("table")
            page.screenshot(path=str(SHOTS / "2-status.png"), full_page=True)
            dead = page.locator(f'tr[data-entry="{bad}"] td[data-target="devto"]')
            assert "Body markdown has already been taken" in dead.inner_text()
            delivered = page.locator(f'tr[data-entry="{ok}"] td[data-target="devto"] a')
            assert delivered.get_attribute("href", timeout=2000).startswith(devto.url)
            dead.locator("button", has_text="Retry").click()
            page.wait_for_selector(".flash")
            assert "Sending" in page.inner_text(".flash")
            assert rt.ledger.get(bad, "devto").state == "pending"
            assert (bad, "devto") in q.deliveries
            page.locator(".held-banner button", has_text="Approve all from blogger").click()
            page.wait_for_selector(".flash")
            assert "Approved 3 held entries." in page.inner_text(".flash")
            assert rt.store.held() == {}
            page.select_option("select[name=state]", "pending")
            page.click("text=Filter")
            page.wait_for_load_state()
            page.screenshot(path=str(SHOTS / "3-after.png"), full_page=True)
            assert page.locator('td[data-state="pending"]').count() >= 4
            browser.close()
    finally:
        server.shutdown()
