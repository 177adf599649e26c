"""Helpers shared by CLI commands: the workspace context, JSON output, waiting for jobs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from backend.context import Ctx
from backend.jobs.models import JobOut


def add_tenant(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tenant", required=True, help="workspace slug")


def add_json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON meant for machines")


def tenant_parser(sub: argparse._SubParsersAction, name: str, *, json: bool = True, **kwargs: Any) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """A sub-command that acts inside one workspace: ``--tenant`` and (by default) ``--json``."""
    p = sub.add_parser(name, **kwargs)
    add_tenant(p)
    if json:
        add_json(p)
    return p


def tenant_ctx(slug: str) -> Ctx:
    """An operator's admin context inside the workspace ``slug``."""
    from backend.accounts.service import tenant_by_slug

    tenant = tenant_by_slug(slug)
    return Ctx(tenant_id=tenant.id, user_id=None, role="admin", username="cli")


def emit(data: Any, *, as_json: bool, text: str | None = None) -> None:
    """Print ``data`` as JSON with --json, else ``text`` (or a readable dump)."""
    if as_json:
        print(json.dumps(data, default=str, indent=None))
    else:
        print(text if text is not None else json.dumps(data, default=str, indent=2))


def wait_for_job(ctx: Ctx, job: JobOut, *, timeout_s: float = 24 * 3600, quiet: bool = False) -> JobOut:
    """Wait for ``job``; with the embedded broker, run the workers inside this process first."""
    from backend.jobs import service as jobs
    from workers.runner import ensure_embedded_workers

    ensure_embedded_workers()  # no-op on Redis: a worker process runs it
    last = -1.0
    while True:
        cur = jobs.wait(ctx, job.id, timeout_s=2.0)
        if not quiet and cur.progress != last and sys.stderr.isatty():
            print(f"\r{cur.status} {cur.progress * 100:5.1f}% {cur.stage}", end="", file=sys.stderr)
            last = cur.progress
        if cur.finished:
            if not quiet and sys.stderr.isatty():
                print(file=sys.stderr)
            return cur
        timeout_s -= 2.0
        if timeout_s <= 0:
            return cur


def job_exit_code(job: JobOut) -> int:
    return 0 if job.status == "succeeded" else 1
