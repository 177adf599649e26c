"""``dataset list|create|import|show|rename|delete|export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backend.cli.common import emit, tenant_ctx, tenant_parser, wait_for_job


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dataset", help="create, import, inspect and export datasets")
    dsub = p.add_subparsers(dest="dataset_command", required=True)

    lp = tenant_parser(dsub, "list", help="the workspace's datasets")
    lp.add_argument("--sort", choices=["name", "created", "images"], default="created")
    lp.add_argument("--limit", type=int, default=100)
    lp.add_argument("--offset", type=int, default=0)
    lp.set_defaults(func=cmd_list)

    cp = tenant_parser(dsub, "create", help="create an empty dataset")
    _add_fields(cp)
    cp.set_defaults(func=cmd_create)

    ip = tenant_parser(dsub, "import", help="upload a folder or a .zip into a dataset (created when new) and wait")
    _add_fields(ip)
    ip.add_argument("path", type=Path, help="a folder or a .zip (kohya layout: repeats from folder names)")
    ip.set_defaults(func=cmd_import)

    sp = tenant_parser(dsub, "show", help="a dataset with its images")
    sp.add_argument("dataset_id")
    sp.set_defaults(func=cmd_show)

    rp = tenant_parser(dsub, "rename", help="rename a dataset")
    rp.add_argument("dataset_id")
    rp.add_argument("new_name")
    rp.set_defaults(func=cmd_rename)

    xp = tenant_parser(dsub, "delete", help="delete a dataset and its files")
    xp.add_argument("dataset_id")
    xp.set_defaults(func=cmd_delete)

    ep = tenant_parser(dsub, "export", help="write a kohya-layout zip")
    ep.add_argument("dataset_id")
    ep.add_argument("output", type=Path)
    ep.set_defaults(func=cmd_export)


def _add_fields(p: argparse.ArgumentParser) -> None:
    p.add_argument("--name", required=True)
    p.add_argument("--trigger", default=None, help="trigger word")
    p.add_argument("--class", dest="class_word", default=None, help="class word, e.g. woman")
    p.add_argument("--description", default=None)
    p.add_argument("--repeats", type=int, default=None, help="default repeats")


def cmd_list(args: argparse.Namespace) -> int:
    from backend.datasets import service

    rows, total = service.list_datasets(tenant_ctx(args.tenant), sort=args.sort, limit=args.limit, offset=args.offset)
    if args.json:
        emit({"total": total, "datasets": [d.model_dump(mode="json") for d in rows]}, as_json=True)
    else:
        for d in rows:
            print(f"{d.id}  {d.name:<30} {d.image_count:>5} images  trigger={d.trigger_word or '-'}  {d.created_at:%Y-%m-%d}")
        print(f"{total} dataset(s)")
    return 0


def _fields(args: argparse.Namespace) -> dict[str, object]:
    given = {"trigger_word": args.trigger, "class_word": args.class_word, "description": args.description, "default_repeats": args.repeats}
    return {k: v for k, v in given.items() if v is not None}


def cmd_create(args: argparse.Namespace) -> int:
    from backend.datasets import service

    ds = service.create_dataset(tenant_ctx(args.tenant), name=args.name, **_fields(args))  # type: ignore[arg-type]
    emit(ds.model_dump(mode="json"), as_json=args.json, text=f"created dataset {ds.id} {ds.name}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from backend.datasets import service
    from backend.datasets.ingest import UploadFile, files_from_folder, report_of, start_upload

    ctx = tenant_ctx(args.tenant)
    path: Path = args.path
    if path.is_dir():
        files = files_from_folder(path)
    elif path.is_file():
        files = [UploadFile(name=path.name, path=path)]
    else:
        print(f"error: {path} is not a folder or a file", file=sys.stderr)
        return 2
    ds = service.find_dataset(ctx, args.name)
    if ds is None:
        ds = service.create_dataset(ctx, name=args.name, **_fields(args))  # type: ignore[arg-type]
    elif _fields(args):
        ds = service.update_dataset(ctx, ds.id, **_fields(args))
    job = wait_for_job(ctx, start_upload(ctx, ds.id, files))
    report = report_of(job)
    if report is None:
        print(f"error: ingest {job.status}: {job.error or ''}", file=sys.stderr)
        return 1
    if args.json:
        emit(report.model_dump(mode="json"), as_json=True)
    else:
        print(f"dataset {report.dataset_id}: {len(report.accepted)} accepted, {len(report.rejected)} refused")
        for r in report.rejected:
            print(f"  refused {r['file']}: {r['reason']}")
        for w in report.warnings:
            print(f"  warning {w['file']}: {w['warning']}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from backend.datasets import service

    ctx = tenant_ctx(args.tenant)
    ds = service.get_dataset(ctx, args.dataset_id)
    images = service.all_images(ctx, ds.id)
    data = ds.model_dump(mode="json") | {"images": [i.public(ds.default_repeats) for i in images]}
    if args.json:
        emit(data, as_json=True)
    else:
        print(f"{ds.id} {ds.name}: {len(images)} images, trigger={ds.trigger_word or '-'} class={ds.class_word or '-'} repeats={ds.default_repeats}")
        for i in images:
            warn = f"  [{'; '.join(i.warnings)}]" if i.warnings else ""
            print(f"  {i.filename:<40} {i.width}x{i.height}  x{i.repeats or ds.default_repeats}  {i.caption or '(no caption)'}{warn}")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    from backend.datasets import service

    ds = service.rename_dataset(tenant_ctx(args.tenant), args.dataset_id, args.new_name)
    emit(ds.model_dump(mode="json"), as_json=args.json, text=f"renamed to {ds.name}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from backend.datasets import service

    n = service.delete_dataset(tenant_ctx(args.tenant), args.dataset_id)
    emit({"dataset_id": args.dataset_id, "deleted_objects": n}, as_json=args.json, text=f"deleted dataset {args.dataset_id} ({n} files)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from backend.datasets.kohya import export_kohya

    out = export_kohya(tenant_ctx(args.tenant), args.dataset_id, args.output)
    emit({"dataset_id": args.dataset_id, "path": str(out)}, as_json=args.json, text=f"wrote {out}")
    return 0
