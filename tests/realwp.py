"""A real WordPress for the tests: Debian's `wordpress` package on PHP's built-in server and the
MariaDB on 127.0.0.1:3306, a fresh database per test session, dropped afterwards.

`RealWordPress.start()` installs the site (pretty permalinks), an administrator and an
Author-role user, each with an application password, and serves it on a free loopback port.
Where the packages or the database are missing it raises `Unavailable` with the reason, and the
tests that need it skip with that reason (CI installs the packages, so there they run).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from .fakes.smtp import free_port
from .realproxy import Unavailable

WP = Path("/usr/share/wordpress")
CONFIG_DIR = Path("/etc/wordpress")
DB_HOST = os.environ.get("SYNDICATE_TEST_MYSQL_HOST", "127.0.0.1")
ROUTER = """<?php
// Existing files (CSS, JS, images) are served as they are; everything else is WordPress.
$_SERVER['WORDPRESS_CONFIG'] = getenv('SYNDICATE_WP_CONFIG');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
if ($path !== '/' && file_exists('/usr/share/wordpress' . $path) && !is_dir('/usr/share/wordpress' . $path)) {
    return false;
}
$_SERVER['SCRIPT_NAME'] = '/index.php';
require '/usr/share/wordpress/index.php';
"""
INSTALL = """<?php
$_SERVER['HTTP_HOST'] = '127.0.0.1:%(port)d';
$_SERVER['WORDPRESS_CONFIG'] = '%(name)s';
$_SERVER['REQUEST_URI'] = '/';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
ob_start();
wp_install('Entropic Notes', 'admin', 'admin@home.example', true, '', '%(password)s');
global $wp_rewrite;
$wp_rewrite->set_permalink_structure('/%%year%%/%%monthnum%%/%%day%%/%%postname%%/');
flush_rewrite_rules(true);
$admin = WP_Application_Passwords::create_new_application_password(1, array('name' => 'syndicate'));
$uid = wp_insert_user(array('user_login' => 'author', 'user_pass' => '%(password)s',
                            'user_email' => 'author@home.example', 'role' => 'author'));
$author = WP_Application_Passwords::create_new_application_password($uid, array('name' => 'syndicate'));
ob_end_clean();
echo json_encode(array('admin' => $admin[0], 'author' => $author[0]));
"""


def _mysql(sql: str) -> None:
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise Unavailable("no mysql/mariadb client (apt-get install mariadb-client)")
    done = subprocess.run([client, "-h", DB_HOST, "-uroot", "-e", sql], capture_output=True,
                          text=True, timeout=30)
    if done.returncode != 0:
        raise Unavailable(f"MariaDB on {DB_HOST}:3306 refused: {done.stderr.strip()[:200]}")


class RealWordPress:
    def __init__(self) -> None:
        self.name = f"syndicate-{secrets.token_hex(4)}"
        self.db = self.name.replace("-", "_")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_password = "Admin-" + secrets.token_hex(8)
        self.folder = Path(tempfile.mkdtemp(prefix="syndicate-wp-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.app_passwords: dict[str, str] = {}

    @property
    def config_file(self) -> Path:
        return CONFIG_DIR / f"config-{self.name}.php"

    def start(self) -> RealWordPress:
        if not (WP / "wp-load.php").exists():
            raise Unavailable("Debian's wordpress package is not installed "
                              "(apt-get install wordpress php-cli php-mysql php-xml php-curl "
                              "php-mbstring)")
        php = shutil.which("php")
        if php is None:
            raise Unavailable("php-cli is not installed")
        if not os.access(CONFIG_DIR, os.W_OK):
            raise Unavailable(f"{CONFIG_DIR} is not writable (WordPress configs live there)")
        _mysql(f"CREATE DATABASE {self.db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        keys = "\n".join(f"define('{k}', '{secrets.token_hex(24)}');" for k in (
            "AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
            "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"))
        self.config_file.write_text(f"""<?php
define('DB_NAME', '{self.db}');
define('DB_USER', 'root');
define('DB_PASSWORD', '');
define('DB_HOST', '{DB_HOST}');
define('WP_HOME', '{self.url}');
define('WP_SITEURL', '{self.url}');
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_CONTENT_DIR', '/var/lib/wordpress/wp-content');
define('DISABLE_WP_CRON', true);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
{keys}
""")
        (self.folder / "router.php").write_text(ROUTER)
        (self.folder / "install.php").write_text(INSTALL % {
            "port": self.port, "name": self.name, "password": self.admin_password})
        done = subprocess.run([php, str(self.folder / "install.php")], capture_output=True,
                              text=True, timeout=120)
        try:
            self.app_passwords = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.stop()
            raise Unavailable(f"WordPress did not install: {done.stdout[-300:]} "
                              f"{done.stderr[-300:]}") from None
        env = {**os.environ, "PHP_CLI_SERVER_WORKERS": "4", "SYNDICATE_WP_CONFIG": self.name}
        self.proc = subprocess.Popen(
            [php, "-S", f"127.0.0.1:{self.port}", "-t", str(WP), str(self.folder / "router.php")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/wp-json/", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise Unavailable("WordPress did not answer on its port within 30 s")

    def stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
            self.proc = None
        self.config_file.unlink(missing_ok=True)
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(Unavailable):
            _mysql(f"DROP DATABASE IF EXISTS {self.db}")

    # -- reading the site, as the tests need it ---------------------------------------------
    def auth(self, user: str = "admin") -> tuple[str, str]:
        return user, self.app_passwords[user]

    def api(self, method: str, path: str, **kw: Any) -> requests.Response:
        kw.setdefault("auth", self.auth())
        kw.setdefault("timeout", 30)
        return requests.request(method, self.url + "/wp-json/wp/v2" + path, **kw)

    def posts(self) -> list[dict[str, Any]]:
        """Every post of any status, newest first, with raw fields (context=edit)."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            resp = self.api("GET", "/posts", params={
                "context": "edit", "per_page": 100, "page": page,
                "status": "publish,future,draft,pending,private"})
            resp.raise_for_status()
            out += resp.json()
            if page >= int(resp.headers.get("X-WP-TotalPages") or 1):
                return out
            page += 1

    def reset(self) -> None:
        """Delete every post, so each test starts from an empty blog."""
        for post in self.posts():
            self.api("DELETE", f"/posts/{post['id']}", params={"force": "true"})
