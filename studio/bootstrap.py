"""Once per server process and database: migrate; on every run: make sure embedded workers run."""

from __future__ import annotations

import streamlit as st

from backend.settings import get_settings


@st.cache_resource(show_spinner="Preparing the database…")
def _migrated(database_url: str) -> bool:
    """Migrate ``database_url`` (idempotent); cached so it happens once per process and database."""
    from backend.migrate import upgrade

    upgrade()
    return True


def boot() -> None:
    """Migrate the database once and start the in-process workers when the broker is embedded."""
    from workers.runner import ensure_embedded_workers

    _migrated(get_settings().resolved_database_url)
    ensure_embedded_workers()  # cheap when already running; restarts them if they were stopped
