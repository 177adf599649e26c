"""Job lifecycle on the embedded broker: submit, progress, success, cancel."""

from __future__ import annotations

import tests.jobtypes  # noqa: F401 - test job types, registered before the workers declare actors
from backend.errors import Conflict
from backend.jobs import service as jobs
from tests.conftest import wait_until


def test_sleep_job_runs_to_success(ctx, embedded_workers):
    job = jobs.submit(ctx, "system.sleep", {"steps": 3, "delay_s": 0.05})
    done = jobs.wait(ctx, job.id, timeout_s=20)
    assert done.status == "succeeded"
    assert done.attempts == 1
    assert done.progress == 1.0
    assert done.result == {"steps": 3}
    kinds = [e.message for e in jobs.events(ctx, job.id) if e.kind == "status"]
    assert kinds[0] == "queued" and kinds[-1] == "succeeded"


def test_cancel_running_job(ctx, embedded_workers, studio_env):
    job = jobs.submit(ctx, "system.sleep", {"steps": 200, "delay_s": 0.05})
    wait_until(lambda: jobs.get(ctx, job.id).status == "running", timeout=10)
    jobs.cancel(ctx, job.id)
    done = jobs.wait(ctx, job.id, timeout_s=30)
    assert done.status == "cancelled"
    assert done.progress < 1.0


def test_embedded_time_limit_is_enforced(ctx, embedded_workers):
    job = jobs.submit(ctx, "test.slow", {})
    done = jobs.wait(ctx, job.id, timeout_s=30)
    assert done.status == "failed"
    assert done.error == "time limit of 1 s exceeded"


def test_sqlite_is_in_wal_mode_with_a_busy_timeout(ctx):
    from sqlalchemy import text

    from backend.db import session_scope

    with session_scope() as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA busy_timeout")).scalar() == 30000


def test_sqlite_never_locked_while_worker_writes_and_ui_reads_and_writes(ctx, studio_env):
    """The embedded worker writes progress and logs as fast as it can while two UI-like threads
    read and write; nothing may raise "database is locked"."""
    import threading

    from backend.accounts import service as accounts
    from workers.runner import ensure_embedded_workers

    ensure_embedded_workers()
    job = jobs.submit(ctx, "test.chatty", {"writes": 300})  # the readers follow this one
    errors: list[BaseException] = []
    stop = threading.Event()
    ops = {"reads": 0, "writes": 0}

    def reader() -> None:
        while not stop.is_set():
            try:
                jobs.get(ctx, job.id)
                jobs.list_jobs(ctx, limit=20)
                jobs.events(ctx, job.id, limit=50)
                ops["reads"] += 1
            except BaseException as err:  # noqa: BLE001
                errors.append(err)
                return

    def writer() -> None:
        i = 0
        while not stop.is_set():
            try:
                accounts.update_tenant(ctx, name=f"Acme {i}")
                try:
                    jobs.cancel(ctx, jobs.submit(ctx, "system.sleep", {"steps": 1, "delay_s": 0}).id)
                except Conflict:
                    pass  # it already finished: also a fine outcome
                ops["writes"] += 1
                i += 1
            except BaseException as err:  # noqa: BLE001
                errors.append(err)
                return

    threads = [threading.Thread(target=reader), threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    finished = []
    try:
        # A busy writer can starve the UI's writes for a while on a loaded machine: run chatty jobs
        # one after another (each under contention) until the UI side has written enough.
        finished.append(jobs.wait(ctx, job.id, timeout_s=120))
        while len(finished) < 6 and ops["writes"] <= 5:
            finished.append(jobs.wait(ctx, jobs.submit(ctx, "test.chatty", {"writes": 300}).id, timeout_s=120))
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    for done in finished:
        assert done.status == "succeeded", done.error
        assert done.result == {"writes": 300}
    assert ops["reads"] > 5 and ops["writes"] > 5
    assert len([e for e in jobs.events(ctx, job.id) if e.kind == "log"]) == 60
