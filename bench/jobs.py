"""Job-queue benchmark: N trivial jobs through the whole path against bare Dramatiq, same broker, same run.

Whole path: ``jobs.submit`` (row + message) -> a real ``python -m backend worker`` process claims
the row, reports progress, finishes it -> PostgreSQL says succeeded. Baseline: a bare Dramatiq
actor that does nothing but note when it started, served by a worker process on the same Redis.

    .venv/bin/python bench/jobs.py --jobs 1000

Needs PostgreSQL (a scratch database is created and dropped) and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE_QUEUE = "bench-bare"
LAT_KEY = "bench:bare:latency"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


# -- baseline: a bare Dramatiq actor ------------------------------------------------------------
def run_bare_worker(redis_url: str, threads: int) -> None:
    """The baseline worker process: one actor that records its start latency and returns."""
    import dramatiq
    import redis
    from dramatiq import Worker
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=redis_url)
    dramatiq.set_broker(broker)
    r = redis.Redis.from_url(redis_url)

    @dramatiq.actor(queue_name=BARE_QUEUE, actor_name="bench_noop", max_retries=0, broker=broker)
    def bench_noop(sent_at: float) -> None:
        r.rpush(LAT_KEY, time.time() - sent_at)

    broker.emit_after("process_boot")
    worker = Worker(broker, queues={BARE_QUEUE}, worker_threads=threads, worker_timeout=200)
    worker.start()
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    while not stop["now"]:
        time.sleep(0.1)
    worker.stop()


def bench_bare(n: int, redis_url: str, threads: int) -> dict[str, float]:
    import redis
    from dramatiq.brokers.redis import RedisBroker
    from dramatiq.message import Message

    r = redis.Redis.from_url(redis_url)
    r.delete(LAT_KEY)
    proc = subprocess.Popen([sys.executable, __file__, "--bare-worker", "--redis-url", redis_url, "--threads", str(threads)], cwd=ROOT)
    broker = RedisBroker(url=redis_url)
    broker.declare_queue(BARE_QUEUE)

    def send() -> None:
        broker.enqueue(Message(queue_name=BARE_QUEUE, actor_name="bench_noop", args=(time.time(),), kwargs={}, options={}))

    try:
        send()  # warm-up: wait until the worker runs one
        _wait(lambda: r.llen(LAT_KEY) >= 1, 120)
        r.delete(LAT_KEY)
        t0 = time.perf_counter()
        for _ in range(n):
            send()
        submit_s = time.perf_counter() - t0
        _wait(lambda: r.llen(LAT_KEY) >= n, 600)
        total_s = time.perf_counter() - t0
        lat = [float(x) for x in r.lrange(LAT_KEY, 0, -1)]
    finally:
        proc.terminate()
        proc.wait(30)
    return {"jobs_per_s": n / total_s, "submit_per_s": n / submit_s, "p50_ms": pct(lat, 0.5) * 1000, "p95_ms": pct(lat, 0.95) * 1000}


# -- the whole path ---------------------------------------------------------------------------------
def bench_studio(n: int, env: dict[str, str], threads: int) -> dict[str, float]:
    from sqlalchemy import func, select

    from backend.accounts.service import create_user_for_tenant
    from backend.context import Ctx
    from backend.db import session_scope
    from backend.jobs import service as jobs
    from backend.jobs.models import Job

    user = create_user_for_tenant(tenant_slug="bench", username="bench-admin", password="password123", role="admin")
    ctx = Ctx(tenant_id=user.tenant_id, user_id=user.id, role="admin", username=user.username)
    worker_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend", "worker", "--queues", "cpu", "--threads", str(threads), "--no-migrate"],
        cwd=ROOT, env=worker_env,
    )
    try:
        warm = jobs.submit(ctx, "system.noop", {})
        if jobs.wait(ctx, warm.id, timeout_s=120).status != "succeeded":
            raise SystemExit("warm-up job did not succeed")
        t0 = time.perf_counter()
        ids = [jobs.submit(ctx, "system.noop", {}).id for _ in range(n)]
        submit_s = time.perf_counter() - t0

        def finished() -> bool:
            with session_scope() as s:
                q = select(func.count()).select_from(Job).where(Job.id.in_(ids), Job.status.in_(("succeeded", "failed")))
                return (s.scalar(q) or 0) >= n

        _wait(finished, 900, interval=0.2)
        total_s = time.perf_counter() - t0
        with session_scope() as s:
            rows = s.execute(select(Job.status, Job.created_at, Job.started_at).where(Job.id.in_(ids))).all()
    finally:
        proc.terminate()
        proc.wait(30)
    failed = [r for r in rows if r.status != "succeeded"]
    if failed:
        raise SystemExit(f"{len(failed)} jobs did not succeed")
    lat = [(r.started_at - r.created_at).total_seconds() for r in rows]
    return {"jobs_per_s": n / total_s, "submit_per_s": n / submit_s, "p50_ms": pct(lat, 0.5) * 1000, "p95_ms": pct(lat, 0.95) * 1000}


def _wait(pred, timeout: float, interval: float = 0.05) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s")
        time.sleep(interval)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=4, help="worker threads of both workers")
    ap.add_argument("--pg-url", default=os.environ.get("STUDIO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"),
                    help="an admin URL; a scratch database is created next to it")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="a Redis database that is flushed")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--bare-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare_worker:
        run_bare_worker(args.redis_url, args.threads)
        return 0

    import redis
    import sqlalchemy as sa

    redis.Redis.from_url(args.redis_url).flushdb()
    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = f"studio_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'create database "{name}"'))
    env = {
        "STUDIO_DATABASE_URL": args.pg_url.rsplit("/", 1)[0] + f"/{name}",
        "STUDIO_BROKER_URL": args.redis_url,
        "STUDIO_DATA_DIR": tempfile.mkdtemp(prefix="studio-bench-"),
        "STUDIO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    try:
        from backend.migrate import upgrade

        upgrade()
        bare = bench_bare(args.jobs, args.redis_url, args.threads)
        studio = bench_studio(args.jobs, env, args.threads)
    finally:
        from backend.testing import reset_all

        reset_all()
        with admin.connect() as c:
            c.execute(sa.text(f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'"))
            c.execute(sa.text(f'drop database if exists "{name}"'))
        redis.Redis.from_url(args.redis_url).flushdb()
    report = {"jobs": args.jobs, "threads": args.threads, "bare_dramatiq": bare, "studio_jobs": studio,
              "throughput_ratio": studio["jobs_per_s"] / bare["jobs_per_s"],
              "p50_latency_ratio": studio["p50_ms"] / max(bare["p50_ms"], 1e-6)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.jobs} trivial jobs, {args.threads} worker threads, Redis + PostgreSQL")
        print(f"{'':16}{'jobs/s':>10}{'submit/s':>10}{'p50 ms':>10}{'p95 ms':>10}")
        for label, r in (("bare Dramatiq", bare), ("studio jobs", studio)):
            print(f"{label:16}{r['jobs_per_s']:10.1f}{r['submit_per_s']:10.1f}{r['p50_ms']:10.1f}{r['p95_ms']:10.1f}")
        print(f"throughput ratio studio/bare: {report['throughput_ratio']:.2f}x; "
              f"p50 start latency ratio: {report['p50_latency_ratio']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
