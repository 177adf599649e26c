"""Alembic migrations (every feature's branch) build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from backend import all_models  # noqa: F401 - every feature's tables
from backend.db import Base, get_engine
from backend.migrate import alembic_config, upgrade


def _diff() -> list[object]:
    with get_engine().connect() as conn:
        mc = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        return compare_metadata(mc, Base.metadata)


def _at_heads() -> bool:
    with get_engine().connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_every_feature_branch_starts_from_the_platform_base() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    bases = script.get_bases()
    assert bases == ["0001"], f"a migration forgot down_revision = '0001': {bases}"
    for rev in script.walk_revisions():
        if rev.revision != "0001" and rev.down_revision == "0001":
            assert rev.branch_labels, f"{rev.revision} starts a feature branch without branch_labels"


def test_sqlite_schema_matches_models(studio_env) -> None:  # type: ignore[no-untyped-def]
    upgrade()  # the template database is already migrated; this must be a no-op
    assert _at_heads()
    diff = _diff()
    assert diff == [], "migrations and models differ on SQLite:\n" + "\n".join(map(str, diff))


@pytest.mark.slow
def test_postgresql_schema_matches_models(pg_env) -> None:  # type: ignore[no-untyped-def]
    assert _at_heads()
    diff = _diff()
    assert diff == [], "migrations and models differ on PostgreSQL:\n" + "\n".join(map(str, diff))
