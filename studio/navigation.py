"""The studio's pages, in menu order. A feature adds its page here with one line in PAGES."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

# (file under pages/, title, icon, minimum role). The first entry is the landing page.
PAGES: list[tuple[str, str, str, str]] = [
    ("pages/dashboard.py", "Dashboard", ":material/home:", "viewer"),
    ("pages/jobs.py", "Jobs", ":material/work_history:", "viewer"),
    ("pages/datasets.py", "Datasets", ":material/photo_library:", "viewer"),
    ("pages/influencers.py", "Influencers", ":material/face:", "viewer"),
    ("pages/generate.py", "Generate", ":material/auto_awesome:", "editor"),
    ("pages/gallery.py", "Gallery", ":material/photo:", "viewer"),
    ("pages/calendar.py", "Calendar", ":material/calendar_month:", "viewer"),
    ("pages/webhooks.py", "Webhooks", ":material/webhook:", "admin"),
    ("pages/train.py", "Train", ":material/model_training:", "viewer"),
    ("pages/loras.py", "LoRAs", ":material/neurology:", "viewer"),
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
    """Navigation before login: hidden placeholders only, so no page file runs and no menu shows.

    Every page's URL is registered as a placeholder, so a bookmarked page shows the login (not
    "page not found") and, after login, opens the page that was asked for.
    """
    placeholders = [
        st.Page(_login, title=title, url_path=Path(path).stem) for path, title, _icon, _role in PAGES
    ]
    st.navigation(
        [st.Page(_login, title="Log in", url_path="login", default=True), *placeholders], position="hidden"
    ).run()


def leave_folder_mode() -> bool:
    """Leave Streamlit's folder-based menu mode; True when this run was in it (rerun then).

    Streamlit treats a folder named pages/ as its old multipage menu (every file listed and run
    without Home.py) until some run calls ``st.navigation``, and widgets drawn in such a run get
    other ids than in later runs (the first form submitted on a fresh server would be lost).
    Home.py always navigates, so it leaves that mode on the first run of the process.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        return True
    return False
