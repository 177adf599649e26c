"""Shared fixtures: a fresh embedded studio per test, and real PostgreSQL, Redis and S3 servers.

Real services are used when reachable; with STUDIO_TEST_REQUIRE_SERVICES=1 (CI) an unreachable
PostgreSQL or Redis fails the run instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("STUDIO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("STUDIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
REQUIRE = os.environ.get("STUDIO_TEST_REQUIRE_SERVICES") == "1"
ARTIFACTS = ROOT / "tests" / "artifacts"

# Never let a developer's .env leak into the suite.
for _k in [k for k in os.environ if k.startswith("STUDIO_") and not k.startswith("STUDIO_TEST_")]:
    del os.environ[_k]
os.environ.setdefault("STUDIO_LOG_LEVEL", "WARNING")
os.environ.setdefault("STUDIO_BCRYPT_ROUNDS", "4")  # fast password hashes: many tests create users


def _unavailable(what: str, err: object) -> None:
    msg = f"{what} unreachable: {err}"
    if REQUIRE:
        pytest.fail(msg + " (STUDIO_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the embedded studio: SQLite + local folder + in-process broker ----------------------------
@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for every test (migrating each time is slow)."""
    from backend.migrate import upgrade
    from backend.testing import reset_all

    d = tmp_path_factory.mktemp("template")
    mp = pytest.MonkeyPatch()
    mp.setenv("STUDIO_DATA_DIR", str(d))
    reset_all()
    upgrade()
    reset_all()
    mp.undo()
    return d / "studio.db"


@pytest.fixture
def studio_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _migrated_sqlite: Path) -> Iterator[Callable[..., None]]:
    """A fresh embedded studio under ``tmp_path``; call the fixture to change settings."""
    from backend.testing import reset_all

    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(_migrated_sqlite, data / "studio.db")
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    monkeypatch.setenv("STUDIO_MODELS_DIR", str(tmp_path / "models"))
    # Fast heartbeats so cancel and stop are seen within a fraction of a second.
    monkeypatch.setenv("STUDIO_HEARTBEAT_INTERVAL_S", "0.3")
    reset_all()

    def configure(**env: str) -> None:
        for k, v in env.items():
            monkeypatch.setenv(f"STUDIO_{k.upper()}", str(v))
        reset_all()

    yield configure
    from workers.runner import stop_embedded_workers

    stop_embedded_workers()
    reset_all()


def make_tenant(slug: str, *, role: str = "admin"):  # type: ignore[no-untyped-def]
    from backend.accounts.service import create_user_for_tenant
    from backend.context import Ctx

    user = create_user_for_tenant(tenant_slug=slug, username=f"{slug}-{role}", password="password123", role=role)
    return Ctx(tenant_id=user.tenant_id, user_id=user.id, role=role, username=user.username)  # type: ignore[arg-type]


@pytest.fixture
def ctx(studio_env):  # type: ignore[no-untyped-def]
    """An admin of workspace 'acme'."""
    return make_tenant("acme")


@pytest.fixture
def other_ctx(studio_env):  # type: ignore[no-untyped-def]
    """An admin of another workspace, 'globex'."""
    return make_tenant("globex")


@pytest.fixture
def embedded_workers(studio_env):  # type: ignore[no-untyped-def]
    """In-process workers on the embedded broker (stopped after the test)."""
    from workers.runner import ensure_embedded_workers, stop_embedded_workers

    pool = ensure_embedded_workers()
    yield pool
    stop_embedded_workers()


# -- real services --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run (dropped afterwards)."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text("select 1"))
    except Exception as err:  # noqa: BLE001
        _unavailable("PostgreSQL", err)
    name = f"studio_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'create database "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    env = {**os.environ, "STUDIO_DATABASE_URL": url, "STUDIO_DATA_DIR": "/tmp"}
    subprocess.run([sys.executable, "-m", "backend", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
    yield url
    with admin.connect() as c:
        c.execute(sa.text(f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'"))
        c.execute(sa.text(f'drop database if exists "{name}"'))
    admin.dispose()


def _truncate(url: str) -> None:
    import sqlalchemy as sa

    from backend import all_models  # noqa: F401
    from backend.db import Base

    eng = sa.create_engine(url)
    with eng.begin() as c:
        names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        c.execute(sa.text(f"truncate {names} cascade"))
    eng.dispose()


@pytest.fixture
def pg_env(studio_env, pg_database: str):  # type: ignore[no-untyped-def]
    """The studio on the run's PostgreSQL database, emptied for this test."""
    _truncate(pg_database)
    studio_env(database_url=pg_database)
    return pg_database


@pytest.fixture(scope="session")
def redis_server() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as err:  # noqa: BLE001
        _unavailable("Redis", err)
    return REDIS_URL


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The test Redis database, emptied for this test."""
    import redis

    redis.Redis.from_url(redis_server).flushdb()
    return redis_server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """A real S3-protocol server (moto in server mode) on a free port: its host:port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_env(studio_env, s3_server: str):  # type: ignore[no-untyped-def]
    """The studio storing into a fresh bucket of the S3 server."""
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    studio_env(storage_url=f"s3://{bucket}", s3_endpoint=s3_server, s3_access_key="testing", s3_secret_key="testing")
    return bucket


@pytest.fixture
def production_env(pg_env, redis_url, s3_env, studio_env):  # type: ignore[no-untyped-def]
    """PostgreSQL + Redis + S3: the production stack with real servers."""
    studio_env(broker_url=redis_url)
    return {"database_url": pg_env, "broker_url": redis_url, "bucket": s3_env}


def studio_subprocess_env(**extra: str) -> dict[str, str]:
    """The current test's STUDIO_* settings for a child process (worker, CLI)."""
    env = {k: v for k, v in os.environ.items()}
    env.update({f"STUDIO_{k.upper()}": str(v) for k, v in extra.items()})
    env["PYTHONPATH"] = str(ROOT)
    return env


class WorkerProcess:
    """A real ``python -m backend worker`` process."""

    def __init__(self, env: dict[str, str], queues: str = "cpu,gpu", threads: int = 2) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "backend", "worker", "--queues", queues, "--threads", str(threads), "--no-migrate"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.stdout.read() if self.proc.stdout else ""


@pytest.fixture
def start_worker() -> Iterator[Callable[..., WorkerProcess]]:
    """Start real worker processes with the test's settings; all are stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(queues: str = "cpu,gpu", threads: int = 2, **extra: str) -> WorkerProcess:
        w = WorkerProcess(studio_subprocess_env(**extra), queues=queues, threads=threads)
        started.append(w)
        return w

    yield start
    for w in started:
        w.stop()


def wait_until(pred: Callable[[], object], timeout: float = 30, interval: float = 0.1) -> object:
    """Poll ``pred`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
