"""Real services: Redis as the broker, and the CI switch that turns "unreachable" from skip into failure."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_redis_broker_delivers_a_message(redis_url: str) -> None:
    import redis
    from dramatiq.message import Message

    from backend.jobs.queue import build_broker

    broker = build_broker(redis_url)
    try:
        broker.enqueue(Message(queue_name="cpu", actor_name="system.noop", args=("job-1",), kwargs={}, options={}))
        assert redis.Redis.from_url(redis_url).llen("dramatiq:cpu") == 1
    finally:
        broker.close()


NODES = [
    "tests/platform/test_migrations.py::test_postgresql_schema_matches_models",
    "tests/platform/test_services_required.py::test_redis_broker_delivers_a_message",
]


def _run_pytest(require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_TEST_")}
    env["STUDIO_TEST_PG_URL"] = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"  # nothing listens there
    env["STUDIO_TEST_REDIS_URL"] = "redis://127.0.0.1:1/0"
    if require:
        env["STUDIO_TEST_REQUIRE_SERVICES"] = "1"
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *NODES],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_unreachable_services_skip_locally_and_fail_in_ci() -> None:
    local = _run_pytest(require=False)
    assert local.returncode == 0, local.stdout[-2000:]
    assert "2 skipped" in local.stdout
    ci = _run_pytest(require=True)
    assert ci.returncode == 1, ci.stdout[-2000:]
    assert "PostgreSQL unreachable" in ci.stdout and "Redis unreachable" in ci.stdout
    assert "STUDIO_TEST_REQUIRE_SERVICES=1" in ci.stdout
