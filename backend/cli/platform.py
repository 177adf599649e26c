"""Platform commands: migrate, create-user, doctor, worker."""

from __future__ import annotations

import argparse
import sys

from backend.cli.common import add_json, emit


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-user", help="create a user (and the workspace when it is new)")
    p.add_argument("--tenant", required=True, help="workspace slug")
    p.add_argument("--username", required=True)
    p.add_argument("--password-stdin", action="store_true", required=True, help="read the password from stdin")
    p.add_argument("--role", choices=["admin", "editor", "viewer"], default="editor")
    add_json(p)
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("doctor", help="check database, broker, storage, ffmpeg, GPU, LLM and ComfyUI")
    add_json(p)
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("worker", help="run a worker process")
    p.add_argument("--queues", default="cpu,gpu", help="comma-separated: cpu,gpu")
    p.add_argument("--threads", type=int, default=2, help="worker threads of the cpu queue")
    p.add_argument("--no-migrate", action="store_true", help="do not migrate the database at start")
    p.set_defaults(func=cmd_worker)


def cmd_migrate(args: argparse.Namespace) -> int:
    from backend.migrate import upgrade

    upgrade()
    print("database is up to date")
    return 0


def cmd_create_user(args: argparse.Namespace) -> int:
    from backend.accounts.service import create_user_for_tenant

    password = sys.stdin.readline().rstrip("\r\n")
    user = create_user_for_tenant(tenant_slug=args.tenant, username=args.username, password=password, role=args.role)
    emit(user.model_dump(mode="json"), as_json=args.json, text=f"created {user.role} {user.username} in {args.tenant}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from backend.doctor import run_checks

    checks = run_checks()
    ok = all(c.ok or not c.required for c in checks)
    if args.json:
        emit({"ok": ok, "checks": [c.as_dict() for c in checks]}, as_json=True)
    else:
        for c in checks:
            mark = "OK  " if c.ok else ("FAIL" if c.required else "warn")
            print(f"{mark} {c.name:<9} {c.detail}")
    return 0 if ok else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from backend.settings import get_settings
    from workers.runner import run_worker_process

    queues = {q.strip() for q in args.queues.split(",") if q.strip()}
    bad = queues - {"cpu", "gpu"}
    if bad or not queues:
        print(f"error: unknown queues {','.join(sorted(bad)) or '(none)'}; use cpu, gpu", file=sys.stderr)
        return 2
    if not args.no_migrate:
        from backend.migrate import upgrade

        upgrade()
    import logging

    logging.getLogger().setLevel(get_settings().log_level)
    run_worker_process(queues=queues, threads=max(1, args.threads))
    return 0
