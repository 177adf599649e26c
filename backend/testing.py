"""Resetting process-wide singletons when configuration changes (tests, benchmarks)."""

from __future__ import annotations


def reset_all() -> None:
    """Forget cached settings, engine, storage and broker so the next use reads the environment."""
    from backend.db import reset_engine
    from backend.jobs.queue import reset_broker
    from backend.settings import get_settings
    from backend.storage import reset_storage

    get_settings.cache_clear()
    reset_engine()
    reset_storage()
    reset_broker()
