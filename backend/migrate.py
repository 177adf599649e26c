"""Running Alembic migrations programmatically (``python -m backend migrate``, make run, workers)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "backend" / "migrations"))
    return cfg


# pg_advisory_xact_lock key: the studio and every worker migrate at start, one at a time.
_MIGRATE_LOCK = 7_301_415_926


def upgrade(revision: str = "heads") -> None:
    """Bring the configured database to ``revision``."""
    from sqlalchemy import text

    from backend.db import get_engine

    engine = get_engine()
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(), revision)
        return
    # Containers starting together would otherwise race to create the same tables.
    with engine.begin() as conn:
        conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATE_LOCK})
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
