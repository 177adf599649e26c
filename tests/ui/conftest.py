"""AppTest helpers: run Home.py or one page with a logged-in context.

    at = page_app("pages/jobs.py", ctx)     # a page run directly, as a logged-in user
    at = home_app()                          # the whole app: setup, login, navigation
    login(at, "alice", "password123")        # fills and submits the login form
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT

TIMEOUT = 60


@pytest.fixture
def page_app(studio_env) -> Callable[..., AppTest]:  # type: ignore[no-untyped-def]
    """An AppTest of one page file with ``ctx`` injected as the logged-in caller (None: nobody)."""

    def make(path: str, ctx=None) -> AppTest:  # type: ignore[no-untyped-def]
        at = AppTest.from_file(str(ROOT / path), default_timeout=TIMEOUT)
        if ctx is not None:
            at.session_state["studio_ctx"] = ctx
        return at.run()

    return make


@pytest.fixture
def home_app(studio_env, monkeypatch: pytest.MonkeyPatch) -> Callable[[], AppTest]:  # type: ignore[no-untyped-def]
    """An AppTest of Home.py as a running server executes it.

    AppTest re-detects the ``pages/`` folder before every run and would then run the current page
    file without Home.py (Streamlit's old folder-based multipage mode). A server leaves that mode
    for good once Home.py has called ``st.navigation``; this fixture pins that state.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
    return lambda: AppTest.from_file(str(ROOT / "Home.py"), default_timeout=TIMEOUT).run()


def login(at: AppTest, username: str, password: str) -> AppTest:
    """Fill and submit the login form."""
    inputs = {t.label: t for t in at.text_input}
    inputs["Username"].input(username)
    inputs["Password"].input(password)
    return button(at, "Log in").click().run()


def button(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    """The one button with ``label``."""
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, f"expected one {label!r} button, found {[b.label for b in at.button]}"
    return found[0]


def texts(elements) -> list[str]:  # type: ignore[no-untyped-def]
    """The values of a list of AppTest elements (errors, titles, ...)."""
    return [str(e.value) for e in elements]
