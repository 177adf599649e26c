"""Job-queue benchmark: N trivial jobs through the whole path against bare Dramatiq, same broker, same run.

Whole path: ``jobs.submit`` (row + message) -> a real ``python -m backend worker`` process claims
the row, reports progress, finishes it -> PostgreSQL says succeeded. Baseline: a bare Dramatiq
actor that does nothing but note when it started, served by a worker process on the same Redis.

    .venv/bin/python bench/jobs.py --jobs 1000 [--submit-threads N] [--count-sql]

Both sides submit from the same number of threads (``--submit-threads``) into the same Redis, and
both workers run the same number of threads. ``--count-sql`` also prints, per phase of one job
(submit, claim, progress, finish, job-finished hooks), the SQL statements, transactions and
estimated round trips to PostgreSQL, measured in-process.

Needs PostgreSQL (a scratch database is created and dropped) and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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


def submit_all(n: int, threads: int, submit_one) -> list:  # type: ignore[no-untyped-def]
    """Call ``submit_one()`` n times from ``threads`` threads; the results in no particular order."""
    from concurrent.futures import ThreadPoolExecutor

    if threads <= 1:
        return [submit_one() for _ in range(n)]
    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda k: [submit_one() for _ in range(k)], shares))
    return [x for part in parts for x in part]


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


def bench_bare(n: int, redis_url: str, threads: int, submit_threads: int) -> dict[str, float]:
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
        submit_all(n, submit_threads, send)
        submit_s = time.perf_counter() - t0
        _wait(lambda: r.llen(LAT_KEY) >= n, 600)
        total_s = time.perf_counter() - t0
        lat = [float(x) for x in r.lrange(LAT_KEY, 0, -1)]
    finally:
        proc.terminate()
        proc.wait(30)
    return {"jobs_per_s": n / total_s, "submit_per_s": n / submit_s, "p50_ms": pct(lat, 0.5) * 1000, "p95_ms": pct(lat, 0.95) * 1000,
            "submit_s": submit_s, "total_s": total_s}


# -- the whole path ---------------------------------------------------------------------------------
def bench_studio(n: int, env: dict[str, str], threads: int, submit_threads: int) -> dict[str, float]:
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
        ids = [job.id for job in submit_all(n, submit_threads, lambda: jobs.submit(ctx, "system.noop", {}))]
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
    return {"jobs_per_s": n / total_s, "submit_per_s": n / submit_s, "p50_ms": pct(lat, 0.5) * 1000, "p95_ms": pct(lat, 0.95) * 1000,
            "submit_s": submit_s, "total_s": total_s}


# -- where the database time goes -------------------------------------------------------------------
PHASES = {  # the function a statement comes from -> the phase of a job it belongs to
    "submit": "submit", "claim": "claim", "write_progress": "progress", "_end": "finish (terminal state)",
    "_job_finished": "hooks: webhooks", "_fail_target_of_failed_job": "hooks: calendar", "heartbeat": "heartbeat",
}


def count_sql(n: int) -> list[dict[str, float]]:
    """Run ``n`` system.noop jobs in-process, one after another, and count SQL work per job and phase.

    Round trips are estimated as statements + BEGIN + COMMIT + the pool's pre-ping at checkout
    (psycopg sends BEGIN as its own command); durable commits are those that wrote (fsync).
    """
    import collections

    from sqlalchemy import event

    from backend.accounts.service import create_user_for_tenant
    from backend.context import Ctx
    from backend.db import get_engine
    from backend.jobs import service as jobs
    from workers import runtime
    from workers.registry import load_handlers

    load_handlers()
    user = create_user_for_tenant(tenant_slug="count-sql", username="count-admin", password="password123", role="admin")
    ctx = Ctx(tenant_id=user.tenant_id, user_id=user.id, role="admin", username=user.username)
    counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def phase() -> str:
        f = sys._getframe(2)
        while f is not None:
            name = PHASES.get(f.f_code.co_name)
            if name and ("backend" in f.f_code.co_filename):
                return name
            f = f.f_back
        return "other"

    def note(kind: str):  # type: ignore[no-untyped-def]
        return lambda *_a, **_k: counts.update([(phase(), kind)])

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", note("statements"))
    event.listen(engine, "begin", note("transactions"))
    event.listen(engine, "commit", note("commits"))
    event.listen(engine.pool, "checkout", note("checkouts"))
    runtime.execute("system.noop", jobs.submit(ctx, "system.noop", {}).id)  # warm-up
    counts.clear()
    ids = [jobs.submit(ctx, "system.noop", {}).id for _ in range(n)]
    for job_id in ids:
        runtime.execute("system.noop", job_id)
    counted = collections.Counter(counts)  # before the check below adds its own reads
    if any(jobs.get(ctx, job_id).status != "succeeded" for job_id in ids):
        raise SystemExit("a counted job did not succeed")
    rows = []
    counts = counted
    for name in sorted({p for p, _ in counts}, key=lambda p: list(PHASES.values()).index(p) if p in PHASES.values() else 99):
        c = {kind: counts[(name, kind)] / n for kind in ("statements", "transactions", "commits", "checkouts")}
        pre_ping = c["checkouts"] if engine.pool._pre_ping else 0.0  # type: ignore[attr-defined]
        rows.append({"phase": name, **c, "round_trips": c["statements"] + c["transactions"] + c["commits"] + pre_ping})
    total = {k: sum(r[k] for r in rows) for k in ("statements", "transactions", "commits", "checkouts", "round_trips")}
    return [*rows, {"phase": "total per job", **total}]


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
    ap.add_argument("--submit-threads", type=int, default=1,
                    help="threads that submit, on both sides (1: a single submitting thread)")
    ap.add_argument("--count-sql", type=int, nargs="?", const=50, default=0, metavar="N",
                    help="also count SQL statements and round trips per job phase over N in-process jobs")
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
        sql = count_sql(args.count_sql) if args.count_sql else []
        bare = bench_bare(args.jobs, args.redis_url, args.threads, args.submit_threads)
        studio = bench_studio(args.jobs, env, args.threads, args.submit_threads)
    finally:
        from backend.testing import reset_all

        reset_all()
        with admin.connect() as c:
            c.execute(sa.text(f"select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'"))
            c.execute(sa.text(f'drop database if exists "{name}"'))
        redis.Redis.from_url(args.redis_url).flushdb()
    # The submitting side is the bottleneck when the last job ends right after the last submit.
    submit_bound = studio["submit_s"] >= 0.8 * studio["total_s"]
    report = {"jobs": args.jobs, "threads": args.threads, "submit_threads": args.submit_threads,
              "load_average": list(os.getloadavg()), "bare_dramatiq": bare, "studio_jobs": studio,
              "studio_bottleneck": "submitting side" if submit_bound else "workers", "sql_per_job": sql,
              "throughput_ratio": studio["jobs_per_s"] / bare["jobs_per_s"],
              "p50_latency_ratio": studio["p50_ms"] / max(bare["p50_ms"], 1e-6)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.jobs} trivial jobs, {args.threads} worker threads, {args.submit_threads} submitting threads, "
              f"Redis + PostgreSQL; load average {' '.join(f'{x:.2f}' for x in report['load_average'])}")
        print(f"{'':16}{'jobs/s':>10}{'submit/s':>10}{'p50 ms':>10}{'p95 ms':>10}")
        for label, r in (("bare Dramatiq", bare), ("studio jobs", studio)):
            print(f"{label:16}{r['jobs_per_s']:10.1f}{r['submit_per_s']:10.1f}{r['p50_ms']:10.1f}{r['p95_ms']:10.1f}")
        print(f"throughput ratio studio/bare: {report['throughput_ratio']:.2f}x; "
              f"p50 start latency ratio: {report['p50_latency_ratio']:.1f}x")
        print(f"studio bottleneck: {report['studio_bottleneck']} (submits done after {studio['submit_s']:.1f} s, "
              f"last job finished after {studio['total_s']:.1f} s)")
        if sql:
            print(f"\nSQL per job ({args.count_sql} in-process jobs, one at a time):")
            print(f"{'phase':26}{'statements':>11}{'transactions':>13}{'commits':>8}{'round trips':>12}")
            for r in sql:
                print(f"{r['phase']:26}{r['statements']:11.2f}{r['transactions']:13.2f}{r['commits']:8.2f}{r['round_trips']:12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
