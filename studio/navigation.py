"""The studio's pages, in menu order. A feature adds its page here."""

from __future__ import annotations

import streamlit as st

# (file under pages/, title, icon, minimum role)
PAGES: list[tuple[str, str, str, str]] = [
    ("pages/dashboard.py", "Dashboard", ":material/home:", "viewer"),
    ("pages/jobs.py", "Jobs", ":material/work_history:", "viewer"),
    ("pages/users.py", "Users", ":material/group:", "admin"),
]


def pages_for(role: str) -> list[st.Page]:
    """The pages a role sees."""
    rank = {"viewer": 0, "editor": 1, "admin": 2}
    return [
        st.Page(path, title=title, icon=icon, default=(i == 0))
        for i, (path, title, icon, min_role) in enumerate(PAGES)
        if rank[role] >= rank[min_role]
    ]
