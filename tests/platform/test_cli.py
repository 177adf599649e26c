"""The operator's command line through real subprocesses: migrate, create-user, doctor, jobs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backend.jobs import service as jobs
from tests.conftest import ROOT, make_tenant, studio_subprocess_env

JOB_KEYS = {"job_id", "type", "status", "attempts", "progress", "result", "error", "cost"}


def cli(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend", *args],
        cwd=ROOT,
        env=studio_subprocess_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_creates_the_schema_on_an_empty_data_dir(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    data = tmp_path / "fresh"
    r = cli("migrate", data_dir=str(data))
    assert r.returncode == 0, r.stderr
    assert "database is up to date" in r.stdout
    tables = set(sa.inspect(sa.create_engine(f"sqlite:///{data / 'studio.db'}")).get_table_names())
    assert {"tenants", "users", "jobs", "job_events", "alembic_version"} <= tables
    assert cli("migrate", data_dir=str(data)).returncode == 0  # idempotent


def test_create_user_reads_the_password_from_stdin_and_creates_the_workspace(studio_env) -> None:  # type: ignore[no-untyped-def]
    from backend.accounts import service as accounts

    r = cli("create-user", "--tenant", "newco", "--username", "carol", "--password-stdin", "--role", "admin", "--json",
            stdin="s3cret-pass word\n")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["username"] == "carol" and out["role"] == "admin" and "password" not in json.dumps(out)
    assert accounts.tenant_by_slug("newco").id == out["tenant_id"]
    ctx = accounts.authenticate("carol", "s3cret-pass word")
    assert ctx is not None and ctx.tenant_id == out["tenant_id"] and ctx.role == "admin"
    # A second user joins the same workspace (no new one is created).
    r = cli("create-user", "--tenant", "newco", "--username", "dave", "--password-stdin", "--role", "viewer", stdin="password123\n")
    assert r.returncode == 0 and "created viewer dave in newco" in r.stdout
    assert accounts.authenticate("dave", "password123").tenant_id == out["tenant_id"]  # type: ignore[union-attr]
    # Errors are one readable line and exit 1.
    r = cli("create-user", "--tenant", "newco", "--username", "dave", "--password-stdin", stdin="password123\n")
    assert r.returncode == 1 and r.stderr.strip() == "error: username 'dave' is taken"
    r = cli("create-user", "--tenant", "newco", "--username", "erin", "--password-stdin", stdin="short\n")
    assert r.returncode == 1 and "password" in r.stderr and "Traceback" not in r.stderr
    r = cli("create-user", "--tenant", "Bad Slug!", "--username", "erin", "--password-stdin", stdin="password123\n")
    assert r.returncode == 1 and "slug" in r.stderr
    r = cli("create-user", "--tenant", "newco", "--username", "erin", "--password-stdin", "--role", "owner", stdin="password123\n")
    assert r.returncode == 2  # argparse refuses the role


def test_doctor_json_reports_each_part(studio_env) -> None:  # type: ignore[no-untyped-def]
    r = cli("doctor", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True
    assert set(checks) >= {"database", "broker", "storage", "ffmpeg", "gpu"}
    for name in ("database", "broker", "storage", "ffmpeg"):
        assert checks[name]["ok"] and checks[name]["required"], checks[name]
    assert checks["database"]["detail"].startswith("sqlite at revision")
    assert checks["gpu"]["required"] is False
    assert all("\n" not in c["detail"] for c in report["checks"])


def test_doctor_fails_when_a_required_part_fails(studio_env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = cli("doctor", "--json", broker_url="redis://127.0.0.1:1/0")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    broker = next(c for c in report["checks"] if c["name"] == "broker")
    assert report["ok"] is False and broker["ok"] is False and broker["detail"]
    r = cli("doctor", data_dir=str(tmp_path / "empty"))  # never migrated
    assert r.returncode == 1
    assert any(line.startswith("FAIL database") and "python -m backend migrate" in line for line in r.stdout.splitlines())


def test_jobs_commands_json(studio_env) -> None:  # type: ignore[no-untyped-def]
    ctx = make_tenant("acme")
    other = make_tenant("globex")
    queued = jobs.submit(ctx, "system.sleep", {"steps": 1})  # no worker runs: it stays queued
    theirs = jobs.submit(other, "system.noop", {})

    r = cli("jobs", "list", "--tenant", "acme", "--json")
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    assert listed["total"] == 1 and [j["job_id"] for j in listed["jobs"]] == [queued.id]
    assert set(listed["jobs"][0]) == JOB_KEYS
    assert listed["jobs"][0] | {"job_id": None} == {
        "job_id": None, "type": "system.sleep", "status": "queued", "attempts": 0, "progress": 0.0,
        "result": None, "error": None, "cost": 0.0,
    }
    r = cli("jobs", "list", "--tenant", "acme", "--json", "--status", "failed")
    assert json.loads(r.stdout)["total"] == 0

    r = cli("jobs", "show", "--tenant", "acme", "--json", queued.id)
    shown = json.loads(r.stdout)
    assert JOB_KEYS <= set(shown) and shown["events"][0]["message"] == "queued"

    r = cli("jobs", "cancel", "--tenant", "acme", "--json", queued.id)
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "cancelled"
    r = cli("jobs", "cancel", "--tenant", "acme", "--json", queued.id)
    assert r.returncode == 1 and r.stderr.strip() == "error: job is already cancelled"

    r = cli("jobs", "retry", "--tenant", "acme", "--json", queued.id)
    retried = json.loads(r.stdout)
    assert r.returncode == 0 and set(retried) == JOB_KEYS and retried["status"] == "queued" and retried["attempts"] == 0

    # Another workspace's job is "not found", never shown.
    for sub in ("show", "cancel", "retry"):
        r = cli("jobs", sub, "--tenant", "acme", "--json", theirs.id)
        assert r.returncode == 1 and r.stderr.strip() == f"error: job {theirs.id} not found", sub
    r = cli("jobs", "list", "--tenant", "nope", "--json")
    assert r.returncode == 1 and "workspace nope not found" in r.stderr


def test_a_command_that_waits_runs_the_job_in_its_own_process(studio_env) -> None:  # type: ignore[no-untyped-def]
    """Embedded broker, no server: ``jobs retry --wait`` starts in-process workers and prints the job."""
    ctx = make_tenant("acme")
    job = jobs.submit(ctx, "system.sleep", {"steps": 2, "delay_s": 0.05})
    jobs.cancel(ctx, job.id)  # nothing runs in this process: cancelled while queued
    r = cli("jobs", "retry", "--tenant", "acme", "--json", "--wait", job.id)
    assert r.returncode == 0, r.stderr
    done = json.loads(r.stdout)
    assert set(done) == JOB_KEYS
    assert done | {"job_id": None} == {"job_id": None, "type": "system.sleep", "status": "succeeded", "attempts": 1,
                                       "progress": 1.0, "result": {"steps": 2}, "error": None, "cost": 0.0}
    assert jobs.get(ctx, job.id).status == "succeeded"  # the database, not just the output


@pytest.mark.parametrize(
    ("var", "value"),
    [("PORT", "abc"), ("BROKER_URL", "amqp://x"), ("DATABASE_URL", "mysql://x"), ("PRESIGN_EXPIRY_S", "5"), ("LOG_LEVEL", "LOUD")],
)
def test_a_wrong_setting_stops_every_command_with_one_line(studio_env, var: str, value: str) -> None:  # type: ignore[no-untyped-def]
    for args in (("doctor",), ("migrate",), ("jobs", "list", "--tenant", "acme")):
        r = cli(*args, **{var.lower(): value})
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"invalid setting STUDIO_{var}: "), r.stderr
        assert r.stdout == ""


def _bare_env() -> dict[str, str]:
    """This machine's environment without any STUDIO_* variable (so only a .env file configures)."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_settings_come_from_a_dot_env_file_in_the_working_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    (tmp_path / ".env").write_text(f"STUDIO_DATA_DIR={tmp_path / 'from-dotenv'}\n")
    r = subprocess.run([sys.executable, "-m", "backend", "migrate"], cwd=tmp_path, env=_bare_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "jobs" in sa.inspect(sa.create_engine(f"sqlite:///{tmp_path / 'from-dotenv' / 'studio.db'}")).get_table_names()

    (tmp_path / ".env").write_text("STUDIO_PORT=eighty\n")  # a wrong value in .env stops the start too
    r = subprocess.run([sys.executable, "-m", "backend", "migrate"], cwd=tmp_path, env=_bare_env(),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().startswith("invalid setting STUDIO_PORT: ")
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_worker_migrates_the_database_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    from tests.conftest import wait_until

    data = tmp_path / "worker-data"
    env = {**_bare_env(), "STUDIO_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "backend", "worker", "--queues", "cpu", "--threads", "1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def migrated() -> bool:
            if not (data / "studio.db").exists():
                return False
            try:
                return "jobs" in sa.inspect(sa.create_engine(f"sqlite:///{data / 'studio.db'}")).get_table_names()
            except sa.exc.OperationalError:
                return False

        assert wait_until(migrated, timeout=90, interval=0.3)
        assert proc.poll() is None  # and keeps serving
    finally:
        proc.terminate()
        proc.wait(30)
