"""The studio's pages, in menu order. A feature adds its page here with one line in PAGES."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

# (file under pages/, title, icon, minimum role). The first entry is the landing page.
PAGES: list[tuple[str, str, str, str]] = [
    ("pages/dashboard.py", "Dashboard", ":material/home:", "viewer"),
    ("pages/jobs.py", "Jobs", ":material/work_history:", "viewer"),
    ("pages/datasets.py", "Datasets", ":material/photo_library:", "viewer"),
    ("pages/users.py", "Users", ":material/group:", "admin"),
]
RANK = {"viewer": 0, "editor": 1, "admin": 2}
ROOT = Path(__file__).resolve().parent.parent


def pages_for(role: str) -> list[st.Page]:
    """The pages a role sees (an entry whose file does not exist yet is left out)."""
    return [
        st.Page(path, title=title, icon=icon, default=(i == 0))
        for i, (path, title, icon, min_role) in enumerate(PAGES)
        if RANK[role] >= RANK[min_role] and (ROOT / path).is_file()
    ]


def _login() -> None:
    """Placeholder page: the login form is drawn by Home.py before navigation."""


def login_only() -> None:
    """Navigation before login: one hidden page, so no page file runs and no menu shows."""
    st.navigation([st.Page(_login, title="Log in", url_path="login", default=True)], position="hidden").run()
