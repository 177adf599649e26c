"""The two commands, CI, docker-compose and the documented settings."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import yaml

from tests.conftest import ROOT


def _fake_venv_project(tmp_path: Path) -> tuple[Path, Path]:
    """The Makefile and requirements in a scratch folder whose .venv python only logs its arguments."""
    for name in ("Makefile", "requirements.txt", "requirements-test.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    log = tmp_path / "calls.log"
    py = tmp_path / ".venv" / "bin" / "python"
    py.parent.mkdir(parents=True)
    py.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    py.chmod(py.stat().st_mode | stat.S_IXUSR)
    return log, py


def _make(tmp_path: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", *targets], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_make_setup_installs_only_when_requirements_change(tmp_path: Path) -> None:
    log, _ = _fake_venv_project(tmp_path)
    assert _make(tmp_path, "setup").returncode == 0
    assert log.read_text().splitlines() == ["-m pip install -r requirements.txt"]
    r = _make(tmp_path, "setup")
    assert "requirements.txt unchanged: skipping install" in r.stdout
    assert len(log.read_text().splitlines()) == 1  # skipped
    with open(tmp_path / "requirements.txt", "a") as fh:
        fh.write("tiny-extra==1.0\n")
    _make(tmp_path, "setup")
    assert len(log.read_text().splitlines()) == 2  # changed: installed again


def test_make_test_installs_test_deps_then_runs_pytest(tmp_path: Path) -> None:
    log, _ = _fake_venv_project(tmp_path)
    assert _make(tmp_path, "test").returncode == 0
    assert log.read_text().splitlines() == [
        "-m pip install -r requirements.txt",
        "-m pip install -r requirements-test.txt",
        "-m pytest",
    ]


def test_make_run_migrates_then_serves_on_the_configured_port(tmp_path: Path) -> None:
    log, _ = _fake_venv_project(tmp_path)
    assert _make(tmp_path, "run").returncode == 0
    calls = log.read_text().splitlines()
    assert calls[1] == "-m backend migrate"
    assert calls[-1].startswith("-m streamlit run Home.py --server.port")
    assert calls[-1].endswith("--server.address 127.0.0.1 --server.headless true")
    dry = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    assert "get_settings().port" in dry  # STUDIO_PORT (environment or .env), validated by the settings


def test_make_creates_the_venv_when_missing(tmp_path: Path) -> None:
    for name in ("Makefile", "requirements.txt"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / "requirements.txt").write_text("")  # nothing to download
    r = _make(tmp_path, "setup")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / ".venv" / "bin" / "python").exists()
    assert (tmp_path / ".venv" / ".requirements.sha256").exists()


def test_requirements_pin_torch_and_list_the_top_level_deps() -> None:
    pins = (ROOT / "requirements.txt").read_text().splitlines()
    # Pinned exactly; "torch==2.13.0" also accepts the machine's 2.13.0+cpu wheel and installs from PyPI elsewhere.
    assert any(re.fullmatch(r"torch==2\.13\.0(\+cpu)?", p) for p in pins), [p for p in pins if p.startswith("torch")]
    assert all("==" in p for p in pins if p and not p.startswith("#"))
    for line in (ROOT / "requirements.in").read_text().splitlines():
        if line and not line.startswith("#"):
            assert "#" in line, f"no comment saying what it is for: {line}"


def test_ci_script() -> None:
    ci = ROOT / ".ci" / "run"
    assert os.access(ci, os.X_OK)
    text = ci.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "set -euo pipefail" in text
    assert "apt-get install" in text and "chromium" in text and "/usr/bin/chromium" in text
    assert "export STUDIO_TEST_REQUIRE_SERVICES=1" in text and "make test" in text
    assert subprocess.run(["bash", "-n", str(ci)]).returncode == 0


def test_docker_compose_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "redis", "minio", "minio-init", "studio", "worker-cpu", "worker-gpu", "scheduler"}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory-policy noeviction" in redis_cmd
    assert services["minio-init"]["image"].startswith("minio/mc")
    assert "mc mb" in " ".join(services["minio-init"]["entrypoint"])
    for name in ("studio", "worker-cpu", "worker-gpu", "scheduler"):
        svc = services[name]
        assert svc["build"] == "." and svc["restart"] == "unless-stopped"
        assert svc["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
        assert svc["depends_on"]["minio-init"]["condition"] == "service_completed_successfully"
        env = svc["environment"]
        assert env["STUDIO_BROKER_URL"].startswith("redis://") and env["STUDIO_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["STUDIO_STORAGE_URL"].startswith("s3://")
    assert services["worker-cpu"]["command"][:6] == ["python", "-m", "backend", "worker", "--queues", "cpu"]
    assert services["worker-gpu"]["command"] == ["python", "-m", "backend", "worker", "--queues", "gpu"]
    assert services["scheduler"]["command"] == ["python", "-m", "backend", "scheduler"]  # publishes due posts
    devices = services["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    for name in ("postgres", "redis", "minio"):
        assert services[name]["restart"] == "unless-stopped" and "healthcheck" in services[name]


def test_one_dockerfile_for_studio_and_workers() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "requirements.txt" in text and "streamlit run Home.py" in text


def test_every_setting_is_documented() -> None:
    from backend.settings import Settings

    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    missing_example = [f"STUDIO_{n.upper()}" for n in Settings.model_fields if f"STUDIO_{n.upper()}=" not in example]
    missing_readme = [f"STUDIO_{n.upper()}" for n in Settings.model_fields if f"`STUDIO_{n.upper()}`" not in readme]
    assert not missing_example, f"add to .env.example: {missing_example}"
    assert not missing_readme, f"add to the README settings table: {missing_readme}"
