"""``generate caption`` and ``generate image``: submit, wait, print the job."""

from __future__ import annotations

import argparse

from backend.cli.common import emit, job_exit_code, tenant_ctx, tenant_parser, wait_for_job


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("generate", help="content plans (captions by the LLM) and images")
    gsub = p.add_subparsers(dest="generate_command", required=True)

    cp = tenant_parser(gsub, "caption", help="caption, hashtags, image prompt and alt text for one post (waits)")
    cp.add_argument("--influencer", required=True, help="influencer id")
    cp.add_argument("--topic", required=True)
    cp.add_argument("--platform", default="instagram", choices=["instagram", "tiktok"])
    cp.add_argument("--model", help="LLM model (default STUDIO_LLM_MODEL)")
    cp.add_argument("--instructions", default="")
    cp.set_defaults(func=cmd_caption)

    ip = tenant_parser(gsub, "image", help="generate images (waits); every image becomes an asset")
    ip.add_argument("--prompt", required=True)
    ip.add_argument("--negative-prompt", default="")
    ip.add_argument("--lora", action="append", default=[], metavar="ID[:STRENGTH]")
    ip.add_argument("--base-model")
    ip.add_argument("--seed", type=int)
    ip.add_argument("--size", default="1080x1350", help="WIDTHxHEIGHT (multiples of 8, or 1080x1350/1080x1920/1080x1080)")
    ip.add_argument("--steps", type=int, default=30)
    ip.add_argument("--guidance", type=float, default=7.0)
    ip.add_argument("--scheduler", default="euler")
    ip.add_argument("--count", type=int, default=1, help="number of images")
    ip.add_argument("--influencer")
    ip.add_argument("--backend", choices=["builtin", "comfyui"])
    ip.set_defaults(func=cmd_image)


def cmd_caption(args: argparse.Namespace) -> int:
    from backend.generation.content import submit_caption

    ctx = tenant_ctx(args.tenant)
    job = submit_caption(ctx, influencer_id=args.influencer, topic=args.topic, platform=args.platform, model=args.model,
                         instructions=args.instructions)
    job = wait_for_job(ctx, job)
    r = job.result or {}
    emit(job.public(), as_json=args.json,
         text=(f"{r.get('full_text')}\n\nimage prompt: {r.get('image_prompt')}\nalt text: {r.get('alt_text')}\n"
               f"cost: ${job.cost:.6f}") if job.status == "succeeded" else f"{job.status}: {job.error}")
    return job_exit_code(job)


def cmd_image(args: argparse.Namespace) -> int:
    from backend.generation.images import parse_lora_arg, parse_size, submit_images

    ctx = tenant_ctx(args.tenant)
    width, height = parse_size(args.size)
    fields = {"prompt": args.prompt, "negative_prompt": args.negative_prompt, "width": width, "height": height,
              "steps": args.steps, "guidance": args.guidance, "scheduler": args.scheduler, "num_images": args.count,
              "loras": [parse_lora_arg(x).model_dump() for x in args.lora], "seed": args.seed,
              "base_model": args.base_model, "influencer_id": args.influencer, "backend": args.backend}
    job = wait_for_job(ctx, submit_images(ctx, **fields))
    r = job.result or {}
    emit(job.public(), as_json=args.json,
         text=f"{job.status}: assets {', '.join(r.get('asset_ids', []))} seed {r.get('seed')}" if job.status == "succeeded"
         else f"{job.status}: {job.error}")
    return job_exit_code(job)
