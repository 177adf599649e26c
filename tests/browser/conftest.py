"""Browser-test infrastructure: a real ``streamlit run Home.py`` server and headless Chromium.

Fixtures
    studio_server   a fresh studio server (embedded default: SQLite + local storage + in-process
                    workers) on a free port, with its own STUDIO_DATA_DIR and STUDIO_MODELS_DIR,
                    fully booted: healthy AND one page rendered to its end in Chromium.
                    ``.base_url``, ``.data_dir``, ``.env`` (for CLI calls against the same data),
                    ``.backend(*args)`` runs ``python -m backend ...`` against it,
                    ``.submit_job(slug, type, payload)`` queues a job the server's workers run.
    browser         one Chromium per test session (/usr/bin/chromium, headless).
    page            a fresh browser context and page per test (1400x1000).

Helpers (import from tests.browser.conftest)
    setup_and_login(page, base_url)   first-run setup (workspace, admin, password twice), then log in
    login(page, base_url, user, pw)   log in only (retried once, with a screenshot, if it does not take)
    goto_page(page, title)            click a page in the sidebar menu, wait for its title and the run's end
    wait_for_text(page, text)         wait until ``text`` is visible
    wait_idle(page)                   wait until the app has no run going or requested (read from
                                      Streamlit's own websocket protocol, not guessed from the DOM)
    fill(page, label, value)          type into an input, commit it (Tab), check Streamlit kept it
    submit(page, button, filled)      wait idle, re-check the filled values, then click the button
    upload_files(page, paths)         put files into the first uploader, wait until listed, click Upload
    wait_for_cookie(page, name)       wait until the browser has (or, present=False, lost) a cookie
    screenshot(page, name)            save tests/artifacts/<name>.png (full page); returns the path

Why these helpers: under load a Streamlit run can take seconds, and until it ends the DOM holds
stale copies of elements next to their replacements; a value typed into an element that a rerun
then replaces is lost, and a click during a run can race a rerun requested by a component (e.g.
the login cookie). So every interaction waits for the app to be idle, every fill is verified, and
every helper waits for an explicit outcome (text, heading, cookie) rather than a fixed time.

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
from playwright.sync_api import Error as PlaywrightError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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
# Generous: a passing test never waits for these; a loaded 2-core CI machine sometimes needs them.
TIMEOUT_MS = 60_000
# A CPU job in the server's in-process worker (the demo model is built on first use, then a few
# steps): seconds on an idle machine, minutes on a loaded one. Only a failing test waits this long.
JOB_TIMEOUT_MS = 300_000
COOKIE = "studio_auth"  # the re-login cookie (settings.cookie_name default)
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


class RunTracker:
    """Follows a page's Streamlit script runs on its websocket (Streamlit's own protocol messages).

    The browser asks for a run with a ``rerun_script`` BackMsg; the server answers ``new_session``
    when a run starts and ``script_finished`` when it ends (``FINISHED_EARLY_FOR_RERUN`` when
    another run follows at once, e.g. ``st.rerun()``). Fragment runs (``run_every`` refreshes) are
    not counted in the quiet time (a live job's panel refreshes every second), but one in flight
    (a dialog's rerun, say) is waited for.
    """

    STREAM = "/_stcore/stream"
    # A requested run that never starts (the server merged it into another) stops counting after this.
    REQUEST_EXPIRES_S = 15.0

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self._ws = None
        self._reset()
        # A loaded document is a new Streamlit session; until its websocket has finished a run,
        # the app is not idle (a ``goto`` returns before the new session has even connected).
        page.on("domcontentloaded", lambda _page: self._forget_session())
        page.on("websocket", self._attach)

    def _forget_session(self) -> None:
        self._ws = None
        self._reset()

    def _reset(self) -> None:
        self.completed_runs = 0  # full-app runs finished on the current websocket
        self._running = False
        self._requested_at: float | None = None
        self._fragment_running = False
        self._fragment_requested_at: float | None = None
        self._changed_at = time.monotonic()

    def _attach(self, ws) -> None:  # type: ignore[no-untyped-def]
        if self.STREAM not in ws.url:
            return
        self._reset()
        self._ws = ws
        # A closing old websocket may still deliver frames; only the current one counts.
        ws.on("framesent", lambda payload: self._sent(payload) if ws is self._ws else None)
        ws.on("framereceived", lambda payload: self._received(payload) if ws is self._ws else None)

    def _sent(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            return
        msg = BackMsg.FromString(payload)
        if msg.WhichOneof("type") != "rerun_script":
            return
        if msg.rerun_script.fragment_id:
            self._fragment_requested_at = time.monotonic()
        else:
            self._requested_at = self._changed_at = time.monotonic()

    def _received(self, payload: str | bytes) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg.FromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "new_session" and msg.metadata.run.fragment_ids:
            self._fragment_running, self._fragment_requested_at = True, None
        elif kind == "new_session":
            # A fragment rerun asked for before a full run is dropped by it (or runs after it, and then says so).
            self._running, self._requested_at, self._fragment_requested_at = True, None, None
            self._changed_at = time.monotonic()
        elif kind == "script_finished":
            self._fragment_running = False
            if self._running and msg.script_finished in (
                ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
            ):
                self._running = False
                self.completed_runs += 1
                self._changed_at = time.monotonic()

    def idle_for_s(self) -> float:
        """Seconds since the app became idle (0 while a run is going, requested, or none ran yet)."""
        now = time.monotonic()
        requested = any(at is not None and now - at < self.REQUEST_EXPIRES_S
                        for at in (self._requested_at, self._fragment_requested_at))
        if self._running or self._fragment_running or requested or self.completed_runs == 0:
            return 0.0
        return now - self._changed_at


def _tracked_page(context):  # type: ignore[no-untyped-def]
    page = context.new_page()
    page.studio_runs = RunTracker(page)
    return page


def _first_render(browser, server: StudioServer) -> None:  # type: ignore[no-untyped-def]
    """Render one page to its end, so migrations, imports and the first-run path are done.

    It opens a page URL on the fresh server (the hardest first run: Streamlit's folder-based menu
    mode, left by Home.py) and checks that only the setup form shows there.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = _tracked_page(context)
        page.goto(f"{server.base_url}/jobs")
        try:
            wait_for_text(page, "Welcome to InfluencerAI Studio", timeout_ms=90_000)
            wait_idle(page)
        except Exception as err:
            screenshot(page, "FAILED_server_first_render")
            raise AssertionError(f"the first page never rendered ({err}):\n{server.log_tail()}") from err
        assert page.get_by_role("heading", name="Jobs").count() == 0, "a page ran before setup"
    finally:
        context.close()


@pytest.fixture
def studio_server(tmp_path: Path, browser) -> Iterator[StudioServer]:  # type: ignore[no-untyped-def]
    """A fresh studio server on a free port (embedded default) with its own data folder, fully booted."""
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
        _first_render(browser, server)
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
    pg = _tracked_page(context)
    yield pg
    if request.node.stash.get(_FAILED, False):
        try:
            screenshot(pg, f"FAILED_{request.node.name}")
            # The main area scrolls inside its own container, so the screenshot may miss the bottom.
            text = pg.get_by_test_id("stMain").inner_text(timeout=5_000)
            (ARTIFACTS / f"FAILED_{request.node.name}.txt").write_text(f"{pg.url}\n\n{text}")
        except Exception:  # noqa: BLE001 - the browser may be gone
            pass
    context.close()


def wait_for_text(page, text: str, *, timeout_ms: int = TIMEOUT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until ``text`` is visible somewhere on the page.

    Only visible matches count: a data grid keeps hidden copies of its cells, which come first in
    the page and would otherwise be waited on forever.
    """
    page.get_by_text(text, exact=False).filter(visible=True).first.wait_for(state="visible", timeout=timeout_ms)


def wait_idle(page, *, quiet_ms: int = 500, timeout_ms: int = TIMEOUT_MS) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app has rendered a run to its end and nothing has run or been asked for since ``quiet_ms``.

    The quiet time catches reruns that follow a run by themselves (a component reporting its value).
    """
    runs: RunTracker = page.studio_runs
    deadline = time.monotonic() + timeout_ms / 1000
    while runs.idle_for_s() * 1000 < quiet_ms:
        if time.monotonic() > deadline:
            raise AssertionError(f"the app was still running after {timeout_ms / 1000:.0f}s")
        page.wait_for_timeout(50)
    # Streamlit drops the previous run's stale elements once the run ends; give React a moment.
    stale = page.locator("[data-stale='true']")
    for _ in range(50):
        if stale.count() == 0:
            return
        page.wait_for_timeout(100)


def _box(page, target, scope=None):  # type: ignore[no-untyped-def]
    """The input ``target``: a label (exact, inside ``scope`` or the page) or a Playwright Locator."""
    return (scope or page).get_by_label(target, exact=True) if isinstance(target, str) else target


def fill(page, target, value: str, *, scope=None, attempts: int = 4) -> None:  # type: ignore[no-untyped-def]
    """Type ``value`` into the input ``target`` (a label or a Locator) so that it sticks.

    Fills, presses Tab (Streamlit commits a text widget's value on blur), waits for the run that
    may start, and checks the input still holds ``value``: a rerun can replace the element right
    after the fill, and the new one is empty. Then it tries again.
    """
    for _ in range(attempts):
        wait_idle(page)
        box = _box(page, target, scope)
        box.fill(value)
        box.press("Tab")
        wait_idle(page)
        if box.input_value() == value:
            return
    raise AssertionError(f"the input {target!r} would not keep {value!r} (it holds {box.input_value()!r})")


def submit(page, button, filled: dict[Any, str] | None = None, *, scope=None) -> None:  # type: ignore[no-untyped-def]
    """Click ``button`` (a button name, exact, or a Locator) once the app is idle and the ``filled``
    inputs (label or Locator -> value) still hold their values."""
    wait_idle(page)
    for target, value in (filled or {}).items():
        if _box(page, target, scope).input_value() != value:
            fill(page, target, value, scope=scope)
    wait_idle(page)
    if isinstance(button, str):
        button = (scope or page).get_by_role("button", name=button, exact=True)
    button.click()


def upload_files(page, paths: list[str], *, button: str = "Upload", attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Put ``paths`` into the first file uploader, wait until it lists them all, then click ``button``."""
    names = [Path(p).name for p in paths]
    for n in range(attempts):
        wait_idle(page)
        page.locator("[data-testid='stFileUploader'] input[type='file']").first.set_input_files(paths)
        try:
            for name in names:  # a rerun that replaced the uploader would have dropped them
                wait_for_text(page, name, timeout_ms=TIMEOUT_MS // attempts)
            break
        except PlaywrightError:
            if n == attempts - 1:
                raise
    submit(page, button)


def _fill_form(page, button: str, values: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for label, value in values.items():
        fill(page, label, value)
    submit(page, button, values)


def _outcome(page, outcomes: dict[str, Any], *, timeout_ms: int = TIMEOUT_MS) -> str:  # type: ignore[no-untyped-def]
    """Wait until one of the ``outcomes`` (name -> locator) is visible; returns its name."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        for name, locator in outcomes.items():
            if locator.filter(visible=True).count():
                return name
        page.wait_for_timeout(100)
    raise AssertionError(f"none of {list(outcomes)} showed within {timeout_ms / 1000:.0f}s")


def _signed_in(username: str) -> str:
    return f"Signed in as {username}"


def _login_form(page):  # type: ignore[no-untyped-def]
    return page.get_by_label("Username", exact=True)


def _login_once(page, base_url: str, username: str, password: str, *, timeout_ms: int) -> None:  # type: ignore[no-untyped-def]
    if base_url not in page.url:
        page.goto(base_url)
    signed_in = page.get_by_text(_signed_in(username))
    if _outcome(page, {"form": _login_form(page), "in": signed_in}, timeout_ms=timeout_ms) == "form":
        _fill_form(page, "Log in", {"Username": username, "Password": password})
        wait_for_text(page, _signed_in(username), timeout_ms=timeout_ms)
        # A form login writes the re-login cookie in the next run, whose component then reruns the
        # app once more: wait for both, so the test's first click does not race them.
        wait_for_cookie(page, COOKIE, timeout_s=timeout_ms / 1000)
    wait_idle(page)


def login(page, base_url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """Log in through the login form and wait for the signed-in sidebar (one retry from a fresh load)."""
    try:
        _login_once(page, base_url, username, password, timeout_ms=TIMEOUT_MS // 2)
    except (AssertionError, PlaywrightError) as err:
        shot = screenshot(page, f"RETRIED_login_{username}")
        print(f"login as {username} did not take ({err}); retrying (screenshot {shot})")  # noqa: T201
        page.goto(base_url)
        _login_once(page, base_url, username, password, timeout_ms=TIMEOUT_MS)


def _setup_once(page, base_url: str, values: dict[str, str], *, timeout_ms: int) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url)
    welcome = page.get_by_text("Welcome to InfluencerAI Studio")
    if _outcome(page, {"setup": welcome, "login": _login_form(page)}, timeout_ms=timeout_ms) == "login":
        return  # an earlier attempt created the workspace
    _fill_form(page, "Create workspace", values)
    wait_for_text(page, "Log in with your new account", timeout_ms=timeout_ms)


def setup_and_login(page, base_url: str, *, workspace: str = ADMIN["workspace"],  # type: ignore[no-untyped-def]
                    username: str = ADMIN["username"], password: str = ADMIN["password"]) -> None:
    """First-run setup (workspace name, admin, password twice), then log in as that admin."""
    values = {"Workspace name": workspace, "Admin username": username, "Password": password,
              "Repeat password": password}
    try:
        _setup_once(page, base_url, values, timeout_ms=TIMEOUT_MS // 2)
    except (AssertionError, PlaywrightError) as err:
        shot = screenshot(page, "RETRIED_setup")
        print(f"setup did not take ({err}); retrying (screenshot {shot})")  # noqa: T201
        _setup_once(page, base_url, values, timeout_ms=TIMEOUT_MS)
    login(page, base_url, username, password)


def goto_page(page, title: str, *, attempts: int = 3) -> None:  # type: ignore[no-untyped-def]
    """Open the page ``title`` from the sidebar menu and wait for its heading and the end of its run.

    A click on the menu during a run can be overtaken by a rerun that a component asked for with
    the old page, so the click is repeated when the heading does not come.
    """
    heading = page.get_by_role("heading", name=title).first
    for n in range(attempts):
        wait_idle(page)
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
        try:
            heading.wait_for(timeout=TIMEOUT_MS // attempts)
            break
        except PlaywrightError:
            if n == attempts - 1:
                raise
    wait_idle(page)


def wait_for_cookie(page, name: str, *, present: bool = True, timeout_s: float = 30):  # type: ignore[no-untyped-def]
    """Wait until the browser has (or, with ``present=False``, no longer has) the cookie ``name``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [c for c in page.context.cookies() if c["name"] == name]
        if bool(found) == present:
            return found[0] if found else None
        page.wait_for_timeout(200)
    raise AssertionError(f"cookie {name} {'never set' if present else 'still there'} after {timeout_s}s")


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Save a full-page PNG under tests/artifacts/ and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
