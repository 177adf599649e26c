"""``python -m backend train``, ``loras list|download|delete`` and ``models list``."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.cli.common import add_json, emit, job_exit_code, tenant_ctx, tenant_parser, wait_for_job


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = tenant_parser(sub, "train", help="train a LoRA on a dataset")
    p.add_argument("--dataset", required=True, help="dataset id")
    p.add_argument("--base-model", required=True, help="base model name (see `models list`)")
    p.add_argument("--preset", help="sd15-512, sdxl-1024 or demo-quick (default: the model's)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="a training parameter, e.g. max_steps=200 rank=16 alpha=8 (repeatable)")
    p.add_argument("--name", default="", help="the LoRA's name")
    p.add_argument("--trigger", default="", help="trigger word (default: the dataset's)")
    p.add_argument("--wait", action="store_true", help="wait for the run to finish")
    p.set_defaults(func=_train)

    p = sub.add_parser("loras", help="trained LoRAs")
    lsub = p.add_subparsers(dest="loras_command", required=True)
    q = tenant_parser(lsub, "list", help="list the workspace's LoRAs")
    q.set_defaults(func=_list)
    q = tenant_parser(lsub, "download", help="write a LoRA's .safetensors to a file")
    q.add_argument("id")
    q.add_argument("-o", "--output", default=".", help="file or folder (default: current folder)")
    q.set_defaults(func=_download)
    q = tenant_parser(lsub, "delete", help="delete a LoRA and its file")
    q.add_argument("id")
    q.set_defaults(func=_delete)

    p = sub.add_parser("models", help="base models")
    msub = p.add_subparsers(dest="models_command", required=True)
    q = msub.add_parser("list", help="the base models the studio can use")
    add_json(q)
    q.set_defaults(func=_models)


def _train(args: argparse.Namespace) -> int:
    from backend.training import service

    ctx = tenant_ctx(args.tenant)
    job = service.submit(ctx, dataset_id=args.dataset, base_model=args.base_model, preset=args.preset,
                         params=service.parse_set_args(args.sets), name=args.name, trigger_word=args.trigger)
    if not args.wait:
        emit(job.public(), as_json=args.json, text=f"queued training run {job.id}")
        return 0
    job = wait_for_job(ctx, job, quiet=args.json)
    text = (f"LoRA {job.result.get('lora_id')} after {job.result.get('steps')} steps" if job.status == "succeeded" and job.result
            else f"training {job.status}: {job.error or job.message}")
    emit(job.public(), as_json=args.json, text=text)
    return job_exit_code(job)


def _list(args: argparse.Namespace) -> int:
    from backend.training import service

    loras = service.list_loras(tenant_ctx(args.tenant))
    lines = [f"{x.id}  {x.name}  [{x.trigger_word}]  {x.base_model}  rank {x.rank}/alpha {x.alpha:g}  "
             f"{x.steps} steps  loss {x.final_loss if x.final_loss is not None else '-'}" for x in loras]
    emit([x.public() for x in loras], as_json=args.json, text="\n".join(lines) or "no LoRAs yet")
    return 0


def _download(args: argparse.Namespace) -> int:
    from backend.training import service

    path = service.download_lora(tenant_ctx(args.tenant), args.id, Path(args.output))
    emit({"id": args.id, "path": str(path), "bytes": path.stat().st_size}, as_json=args.json, text=str(path))
    return 0


def _delete(args: argparse.Namespace) -> int:
    from backend.training import service

    service.delete_lora(tenant_ctx(args.tenant), args.id)
    emit({"id": args.id, "deleted": True}, as_json=args.json, text=f"deleted {args.id}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from backend.basemodels.service import display_name, list_models

    models = list_models()
    emit([m.public() for m in models], as_json=args.json,
         text="\n".join(f"{display_name(m)}  {m.path}" for m in models))
    return 0
