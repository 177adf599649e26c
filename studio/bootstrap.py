"""Once per server process: migrate the database and start the embedded workers."""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner="Starting the studio…")
def boot() -> bool:
    """Migrate (idempotent) and start in-process workers when the broker is embedded."""
    from backend.migrate import upgrade
    from workers.runner import ensure_embedded_workers

    upgrade()
    ensure_embedded_workers()
    return True
