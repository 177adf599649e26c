"""``posts list|import|export|publish-now`` and ``scheduler``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from backend.cli.common import add_json, emit, tenant_ctx, tenant_parser


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("posts", help="list, import, export and publish calendar posts")
    psub = p.add_subparsers(dest="posts_command", required=True)

    lp = tenant_parser(psub, "list", help="posts of a workspace")
    lp.add_argument("--from", dest="start", help="YYYY-MM-DD[ HH:MM] in the workspace's time zone")
    lp.add_argument("--to", dest="end")
    lp.add_argument("--status")
    lp.add_argument("--influencer")
    lp.set_defaults(func=cmd_list)

    ip = tenant_parser(psub, "import", help="create or update posts from a CSV file ('-' for stdin)")
    ip.add_argument("file")
    ip.set_defaults(func=cmd_import)

    ep = tenant_parser(psub, "export", help="posts as CSV or iCalendar")  # --json: a summary of what --out got
    ep.add_argument("--format", choices=["csv", "ics"], default="csv")
    ep.add_argument("--out", help="file to write (default: stdout)")
    ep.set_defaults(func=cmd_export)

    np = tenant_parser(psub, "publish-now", help="publish an approved post now")
    np.add_argument("post_id")
    np.add_argument("--no-wait", action="store_true", help="return once the publish jobs are sent")
    np.set_defaults(func=cmd_publish_now)

    sp = sub.add_parser("scheduler", help="publish due posts every few seconds (run one or more)")
    sp.add_argument("--once", action="store_true", help="run one pass and exit")
    sp.add_argument("--interval", type=float, help="seconds between passes (default STUDIO_SCHEDULER_INTERVAL_S)")
    add_json(sp)
    sp.set_defaults(func=cmd_scheduler)


def _when(ctx, text: str | None, *, end: bool = False):  # type: ignore[no-untyped-def]
    if not text:
        return None
    from datetime import timedelta

    from backend.calendar.service import to_utc

    at = to_utc(ctx, text if " " in text or "T" in text else f"{text} 00:00")
    return at + timedelta(days=1) if end and " " not in text and "T" not in text else at


def cmd_list(args: argparse.Namespace) -> int:
    from backend.calendar import service

    ctx = tenant_ctx(args.tenant)
    posts = service.list_posts(ctx, start=_when(ctx, args.start), end=_when(ctx, args.end, end=True),
                               status=args.status, influencer_id=args.influencer)
    if args.json:
        emit({"total": len(posts), "posts": [p.public() for p in posts]}, as_json=True)
    else:
        for p in posts:
            targets = ", ".join(f"{t.kind}={t.status}" for t in p.targets)
            print(f"{p.id}  {p.local_time} {p.timezone:<16} {p.status:<15} {(p.title or p.caption)[:40]:<40} {targets}")
        print(f"{len(posts)} post(s)")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from backend.calendar.exports import import_csv

    ctx = tenant_ctx(args.tenant)
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    report = import_csv(ctx, data)
    text = f"created {len(report.created)}, updated {len(report.updated)}, errors {len(report.errors)}" + "".join(
        f"\n  {e}" for e in report.errors)
    emit(report.as_dict() | {"created_ids": report.created, "updated_ids": report.updated}, as_json=args.json, text=text)
    return 1 if report.errors else 0


def cmd_export(args: argparse.Namespace) -> int:
    from backend.calendar.exports import export_csv, export_ics
    from backend.calendar.service import list_posts
    from backend.errors import InvalidInput

    if args.json and not args.out:
        raise InvalidInput("--json needs --out: the export itself is CSV or iCalendar, not JSON")
    ctx = tenant_ctx(args.tenant)
    data = export_ics(ctx) if args.format == "ics" else export_csv(ctx).encode("utf-8")
    if args.out:
        with open(args.out, "wb") as fh:
            fh.write(data)
        if args.json:
            emit({"format": args.format, "out": args.out, "bytes": len(data), "posts": len(list_posts(ctx))}, as_json=True)
    else:
        sys.stdout.buffer.write(data)
    return 0


def cmd_publish_now(args: argparse.Namespace) -> int:
    from backend.calendar import scheduler, service
    from backend.cli.common import wait_for_job
    from backend.jobs import service as jobs

    ctx = tenant_ctx(args.tenant)
    post = service.publish_now(ctx, args.post_id)
    scheduler.send_post(post.id)  # now rather than at a running scheduler's next pass; other posts stay theirs
    post = service.get_post(ctx, post.id)
    if not args.no_wait:
        for t in post.targets:
            if t.job_id:
                wait_for_job(ctx, jobs.get(ctx, t.job_id), quiet=args.json)
        post = service.get_post(ctx, post.id)
    text = "\n".join(f"{t.kind}: {t.status} {t.permalink or t.reason or ''}" for t in post.targets)
    emit(post.public(), as_json=args.json, text=text)
    return 0 if all(t.status in ("published", "publishing", "scheduled") for t in post.targets) else 1


def cmd_scheduler(args: argparse.Namespace) -> int:
    import logging

    from backend.calendar import scheduler
    from backend.settings import get_settings

    logging.getLogger().setLevel(get_settings().log_level)
    if args.once:
        report = scheduler.run_once()
        emit(report.as_dict(), as_json=args.json, text=str(report.as_dict()))
        return 0
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print("scheduler running; Ctrl+C stops it", file=sys.stderr, flush=True)
    scheduler.run_loop(stop, interval_s=args.interval)
    return 0
