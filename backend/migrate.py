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


def upgrade(revision: str = "heads") -> None:
    """Bring the configured database to ``revision``."""
    command.upgrade(alembic_config(), revision)
