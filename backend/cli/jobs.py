"""``jobs list|show|cancel|retry [--wait]``."""

from __future__ import annotations

import argparse

from backend.cli.common import emit, job_exit_code, tenant_ctx, tenant_parser, wait_for_job


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("jobs", help="list, inspect, cancel and retry jobs")
    jsub = p.add_subparsers(dest="jobs_command", required=True)
    lp = tenant_parser(jsub, "list")
    lp.add_argument("--status")
    lp.add_argument("--type", dest="job_type")
    lp.add_argument("--limit", type=int, default=50)
    lp.set_defaults(func=cmd_list)
    for name, fn in (("show", cmd_show), ("cancel", cmd_cancel), ("retry", cmd_retry)):
        sp = tenant_parser(jsub, name)
        sp.add_argument("job_id")
        sp.set_defaults(func=fn)
        if name == "retry":
            sp.add_argument("--wait", action="store_true",
                            help="wait for the job to end (embedded broker: run it in this process); exit 1 unless it succeeds")


def cmd_list(args: argparse.Namespace) -> int:
    from backend.jobs import service as jobs

    ctx = tenant_ctx(args.tenant)
    rows, total = jobs.list_jobs(ctx, status=args.status, job_type=args.job_type, limit=args.limit)
    if args.json:
        emit({"total": total, "jobs": [j.public() for j in rows]}, as_json=True)
    else:
        for j in rows:
            print(f"{j.id}  {j.type:<22} {j.status:<10} {j.progress * 100:5.1f}%  {j.created_at:%Y-%m-%d %H:%M}  {j.error or ''}")
        print(f"{total} job(s)")
    return 0


def _print_job(args: argparse.Namespace, job) -> None:  # type: ignore[no-untyped-def]
    emit(job.public(), as_json=args.json, text=f"{job.id} {job.type} {job.status} attempts={job.attempts} {job.error or ''}")


def cmd_show(args: argparse.Namespace) -> int:
    from backend.jobs import service as jobs

    ctx = tenant_ctx(args.tenant)
    job = jobs.get(ctx, args.job_id)
    if args.json:
        data = job.public() | {"stage": job.stage, "message": job.message, "metrics": job.metrics,
                               "events": [e.model_dump(mode="json") for e in jobs.events(ctx, job.id)]}
        emit(data, as_json=True)
    else:
        _print_job(args, job)
        for e in jobs.events(ctx, job.id):
            print(f"  {e.at:%H:%M:%S} {e.kind:<6} {e.message}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    from backend.jobs import service as jobs

    _print_job(args, jobs.cancel(tenant_ctx(args.tenant), args.job_id))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from backend.jobs import service as jobs

    ctx = tenant_ctx(args.tenant)
    job = jobs.retry(ctx, args.job_id)
    if args.wait:
        job = wait_for_job(ctx, job, quiet=args.json)
    _print_job(args, job)
    return job_exit_code(job) if args.wait else 0
