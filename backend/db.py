"""Database engine, sessions and the declarative base shared by every feature's models."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, String, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from backend.settings import get_settings

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A new primary key: 32 hex characters."""
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base; constraint names are fixed so Alembic diffs are stable."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class IdMixin:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


class TenantMixin(IdMixin):
    """A domain row: id, owning workspace and creation time."""

    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_engine: Engine | None = None
_sessionmaker: sessionmaker[Session] | None = None
_lock = threading.Lock()
_pool_size = 10  # kept connections of a server database's pool; a worker raises it for its threads


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the UI read while the embedded worker writes; busy_timeout waits instead of
    # raising "database is locked" when two writers meet.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and immediate write transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_tx(dbapi_conn: Any, _r: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            # Take the write lock at BEGIN: a deferred transaction that upgrades to a writer
            # mid-way fails at once with "database is locked" and busy_timeout cannot help.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=20)


def get_engine() -> Engine:
    """The process-wide engine for the configured database."""
    global _engine, _sessionmaker
    with _lock:
        if _engine is None:
            settings = get_settings()
            url = settings.resolved_database_url
            if url.startswith("sqlite"):
                settings.data_dir.mkdir(parents=True, exist_ok=True)
            _engine = make_engine(url, pool_size=_pool_size)
            _sessionmaker = sessionmaker(_engine, expire_on_commit=False)
        return _engine


def reset_engine() -> None:
    """Forget the engine (tests switch databases between runs)."""
    global _engine, _sessionmaker
    with _lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None
        _sessionmaker = None


def reserve_connections(n: int) -> None:
    """Let the pool keep at least ``n`` connections (a worker: one per job thread and its heartbeat).

    Call before the threads start: a bigger pool replaces the current engine.
    """
    global _pool_size
    if n > _pool_size:
        _pool_size = n
        reset_engine()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    get_engine()
    assert _sessionmaker is not None
    session = _sessionmaker()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
