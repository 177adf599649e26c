"""Browser-test infrastructure: a real ``streamlit run Home.py`` server and headless Chromium.

Fixtures
    studio_server   a fresh studio server (embedded default: SQLite + local storage + in-process
                    workers) on a free port, with its own STUDIO_DATA_DIR and STUDIO_MODELS_DIR.
                    ``.base_url``, ``.data_dir``, ``.env`` (for CLI calls against the same data),
                    ``.backend(*args)`` runs ``python -m backend ...`` against it,
                    ``.submit_job(slug, type, payload)`` queues a job the server's workers run.
    browser         one Chromium per test session (/usr/bin/chromium, headless).
    page            a fresh browser context and page per test (1400x1000).

Helpers (import from tests.browser.conftest)
    setup_and_login(page, base_url)   first-run setup (workspace, admin, password twice), then log in
    login(page, base_url, user, pw)   log in only
    goto_page(page, title)            click a page in the sidebar menu, wait for its title
    wait_for_text(page, text)         wait until ``text`` is visible
    wait_idle(page)                   wait until the app has finished its current run
    screenshot(page, name)            save tests/artifacts/<name>.png (full page); returns the path

Mark browser tests with ``@pytest.mark.browser``. Without /usr/bin/chromium the tests skip, or
FAIL with a clear message under STUDIO_TEST_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ARTIFACTS, REQUIRE, ROOT, free_port

CHROMIUM = Path(os.environ.get("STUDIO_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 30_000
ADMIN = {"workspace": "Acme Studio", "username": "admin", "password": "password123"}


@dataclass
class StudioServer:
    """A running ``streamlit run Home.py``."""

    base_url: str
    data_dir: Path
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes]

    def backend(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """``python -m backend ARGS`` against this server's data (database, storage)."""
        return subprocess.run(
            [sys.executable, "-m", "backend", *args], cwd=ROOT, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=120, check=True,
        )

    def submit_job(self, tenant_slug: str, job_type: str, payload: dict[str, Any]) -> str:
        """Queue a job in ``tenant_slug`` from another process; the server's reconciler sends it."""
        code = (
            "import json, sys\n"
            "from backend.cli.common import tenant_ctx\n"
            "from backend.jobs import service as jobs\n"
            "job = jobs.submit(tenant_ctx(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3]))\n"
            "print(job.id)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, tenant_slug, job_type, json.dumps(payload)], cwd=ROOT, env=self.env,
            capture_output=True, text=True, timeout=120, check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _wait_healthy(server: StudioServer, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.base_url}/_stcore/health", timeout=2).text.strip() == "ok":
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"streamlit not healthy within {timeout_s}s:\n{server.log_tail()}")


@pytest.fixture
def studio_server(tmp_path: Path) -> Iterator[StudioServer]:
    """A fresh studio server on a free port (embedded default) with its own data folder."""
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_") or k.startswith("STUDIO_TEST_")}
    env.update(
        PYTHONPATH=str(ROOT),
        STUDIO_DATA_DIR=str(data),
        STUDIO_MODELS_DIR=str(tmp_path / "models"),
        STUDIO_LOG_LEVEL="WARNING",
        # Jobs queued by another process (a CLI, a test) are picked up within a second or two.
        STUDIO_RESEND_AFTER_S="1",
        STUDIO_RECONCILE_EVERY_S="0.5",
    )
    log_path = tmp_path / "streamlit.log"
    cmd = [
        sys.executable, "-m", "streamlit", "run", "Home.py",
        "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", "--server.runOnSave", "false",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = StudioServer(f"http://127.0.0.1:{port}", data, env, log_path, proc)
    try:
        _wait_healthy(server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """Headless Chromium (the system one), shared by the session's browser tests."""
    if not CHROMIUM.exists():
        msg = f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) to run the browser tests"
        if REQUIRE:
            pytest.fail(msg + " (STUDIO_TEST_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser, request):  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) and page; a failing test leaves a screenshot."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    if request.node.stash.get(_FAILED, False):
        try:
            screenshot(pg, f"FAILED_{request.node.name}")
        except Exception:  # noqa: BLE001 - the browser may be gone
            pass
    context.close()


def wait_for_text(page, text: str, *, timeout_ms: int = TIMEOUT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``text`` is visible somewhere on the page."""
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=timeout_ms)


def wait_idle(page, *, quiet_ms: int = 600, timeout_ms: int = TIMEOUT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app has finished running (no "Running..." widget for ``quiet_ms``)."""
    deadline = time.monotonic() + timeout_ms / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        now = time.monotonic()
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif (now - quiet_since) * 1000 >= quiet_ms:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the app kept running")


def _fill(page, label: str, value: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_label(label, exact=True).fill(value)


def login(page, base_url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Log in through the login form and wait for the signed-in sidebar."""
    if base_url not in page.url:
        page.goto(base_url)
    page.get_by_label("Username", exact=True).wait_for()
    wait_idle(page)
    _fill(page, "Username", username)
    _fill(page, "Password", password)
    page.get_by_role("button", name="Log in").click()
    wait_for_text(page, f"Signed in as {username}")


def setup_and_login(page, base_url: str, *, workspace: str = ADMIN["workspace"],  # type: ignore[no-untyped-def]
                    username: str = ADMIN["username"], password: str = ADMIN["password"]) -> None:
    """First-run setup (workspace name, admin, password twice), then log in as that admin."""
    page.goto(base_url)
    wait_for_text(page, "Welcome to InfluencerAI Studio")
    wait_idle(page)
    _fill(page, "Workspace name", workspace)
    _fill(page, "Admin username", username)
    _fill(page, "Password", password)
    _fill(page, "Repeat password", password)
    page.get_by_role("button", name="Create workspace").click()
    wait_for_text(page, "Log in with your new account")
    login(page, base_url, username, password)


def goto_page(page, title: str) -> None:  # type: ignore[no-untyped-def]
    """Open the page ``title`` from the sidebar menu and wait for its heading."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title).first.wait_for()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page PNG under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
