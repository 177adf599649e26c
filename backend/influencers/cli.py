"""``influencers create|list|show|update|add-doc|profile``."""

from __future__ import annotations

import argparse
from pathlib import Path

from backend.cli.common import emit, job_exit_code, tenant_ctx, tenant_parser, wait_for_job


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("influencers", help="create and list influencers (personas)")
    isub = p.add_subparsers(dest="influencers_command", required=True)

    cp = tenant_parser(isub, "create", help="create an influencer; prints its id")
    cp.add_argument("--name", required=True)
    for flag in ("handle", "bio", "tone", "audience", "trigger-word", "default-lora", "style-profile"):
        cp.add_argument(f"--{flag}")
    cp.add_argument("--topics", help="comma-separated")
    cp.add_argument("--hashtags", help="comma-separated default hashtags")
    cp.add_argument("--platforms", help="comma-separated: instagram,tiktok")
    cp.add_argument("--auto-approve", action="store_true")
    cp.set_defaults(func=cmd_create)

    lp = tenant_parser(isub, "list")
    lp.set_defaults(func=cmd_list)

    dp = tenant_parser(isub, "add-doc", help="upload a style document (PDF, .txt, .md)")
    dp.add_argument("influencer_id")
    dp.add_argument("path", type=Path)
    dp.set_defaults(func=cmd_add_doc)

    pp = tenant_parser(isub, "profile", help="condense the style documents into the style profile (waits)")
    pp.add_argument("influencer_id")
    pp.add_argument("--model")
    pp.set_defaults(func=cmd_profile)


def cmd_create(args: argparse.Namespace) -> int:
    from backend.influencers.service import create_influencer

    fields = {"name": args.name, "handle": args.handle, "bio": args.bio, "tone": args.tone, "audience": args.audience,
              "trigger_word": args.trigger_word, "default_lora_id": args.default_lora, "style_profile": args.style_profile,
              "topics": args.topics, "default_hashtags": args.hashtags, "platforms": args.platforms,
              "auto_approve": True if args.auto_approve else None}
    inf = create_influencer(tenant_ctx(args.tenant), **{k: v for k, v in fields.items() if v is not None})
    emit(inf.model_dump(mode="json"), as_json=args.json, text=inf.id)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from backend.influencers.service import list_influencers

    rows = list_influencers(tenant_ctx(args.tenant))
    if args.json:
        emit({"influencers": [r.model_dump(mode="json") for r in rows]}, as_json=True)
    else:
        for r in rows:
            print(f"{r.id}  {r.name:<30} @{r.handle:<20} {','.join(r.platforms)}")
        print(f"{len(rows)} influencer(s)")
    return 0


def cmd_add_doc(args: argparse.Namespace) -> int:
    from backend.influencers.service import add_style_document

    doc = add_style_document(tenant_ctx(args.tenant), args.influencer_id, filename=args.path.name, data=args.path.read_bytes())
    emit(doc.model_dump(mode="json"), as_json=args.json, text=f"{doc.id} {doc.filename}: {doc.chars} characters")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from backend.influencers.service import submit_profile_job

    ctx = tenant_ctx(args.tenant)
    job = wait_for_job(ctx, submit_profile_job(ctx, args.influencer_id, model=args.model))
    emit(job.public(), as_json=args.json,
         text=(job.result or {}).get("style_profile") if job.status == "succeeded" else f"{job.status}: {job.error}")
    return job_exit_code(job)
