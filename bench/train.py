"""Training speed.

CPU (default): the trainer's step (requests, loss, backward, optimizer, LR schedule, progress
report) against a bare forward + backward + optimizer loop of the same UNet + LoRA on the same
cached inputs, measured in the same run. Goal: ratio <= 1.10.

    .venv/bin/python bench/train.py [--arch sd15|sdxl] [--steps 20] [--rounds 7]

GPU: s/it, peak memory, and achieved TFLOP/s (FLOPs counted with torch.utils.flop_counter) of a
bf16 LoRA step of the full-size architecture (random weights) at 1024 px, batch 1 and 4.

    .venv/bin/python bench/train.py --device cuda --arch sdxl --full-size [--peak-tflops 989]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
# bf16 dense peak (TFLOP/s) by GPU name, for the utilisation figure.
PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "RTX 4090": 165.0, "A10": 125.0}


# -- CPU: trainer vs bare loop --------------------------------------------------------------------
def _studio(tmp: Path, arch: str, steps: int):  # type: ignore[no-untyped-def]
    """A real embedded studio with a small dataset and a claimed training job: a ready Trainer."""
    os.environ.update({"STUDIO_DATA_DIR": str(tmp / "data"), "STUDIO_MODELS_DIR": str(tmp / "models"),
                       "STUDIO_LOG_LEVEL": "ERROR"})
    from backend.jobs import lifecycle
    from backend.jobs import service as jobs
    from backend.migrate import upgrade
    from backend.testing import reset_all
    from backend.training import service as training
    from tests.training.conftest import upload_dataset
    from workers.context import JobContext
    from workers.pipelines.training.trainer import RunInfo, Trainer
    from workers.runner import ensure_embedded_workers, stop_embedded_workers

    reset_all()
    upgrade()
    from backend.accounts.service import create_user_for_tenant
    from backend.context import Ctx

    user = create_user_for_tenant(tenant_slug="bench", username="bench", password="password123", role="admin")
    ctx = Ctx(tenant_id=user.tenant_id, user_id=user.id, role="admin", username="bench")
    ensure_embedded_workers()
    ds = upload_dataset(ctx, n=4)
    stop_embedded_workers()  # the bench drives the trainer itself
    job = training.submit(ctx, dataset_id=ds.id, base_model=f"demo-{arch}",
                          params={"max_steps": steps * 4, "rank": 8, "alpha": 8, "resolution": 128, "batch_size": 2,
                                  "save_every": 0, "sample_every": 0, "sample_prompts": []})
    claimed = lifecycle.claim(job.id, worker="bench")
    assert claimed is not None
    jc = JobContext(claimed)
    trainer = Trainer(jc, RunInfo.from_payload(job.id, ctx.tenant_id, claimed.payload), device=torch.device("cpu"))
    trainer.prepare()
    return trainer, jobs, ctx, job.id


def _bare_loop(trainer, steps: int) -> float:  # type: ignore[no-untyped-def]
    """The same UNet + LoRA, the same cached latents and embeddings: forward, backward, step."""
    unet, sched = trainer.unet, trainer.noise_scheduler
    params = [q for q in unet.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=1e-2, foreach=True)
    batches = [trainer.batch_inputs(trainer.plan.batch(m)[1]) for m in range(steps)]
    gen = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for inputs in batches:
        latents = inputs["latents"]
        noise = torch.randn(latents.shape, generator=gen)
        t = torch.randint(0, 1000, (latents.shape[0],), generator=gen)
        pred = unet(sched.add_noise(latents, noise, t), t, inputs["hidden"], added_cond_kwargs=inputs.get("added"),
                    return_dict=False)[0]
        F.mse_loss(pred, noise).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (time.perf_counter() - started) / steps


def _trainer_loop(trainer, steps: int) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    for _ in range(steps):
        trainer.one_step()
    return (time.perf_counter() - started) / steps


def cpu(arch: str, steps: int, rounds: int) -> None:
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        trainer, jobs, ctx, job_id = _studio(Path(tmp), arch, steps * (rounds + 1))
        _trainer_loop(trainer, 3)
        _bare_loop(trainer, 3)  # warm-up both
        t_trainer, t_bare, ratios = [], [], []
        for r in range(rounds):
            # A/B then B/A: each round pairs the two measurements taken back to back, in alternating
            # order, so a load change on a shared machine hits both sides of a pair alike.
            if r % 2 == 0:
                tr, ba = _trainer_loop(trainer, steps), _bare_loop(trainer, steps)
            else:
                ba, tr = _bare_loop(trainer, steps), _trainer_loop(trainer, steps)
            t_trainer.append(tr)
            t_bare.append(ba)
            ratios.append(tr / ba)
        trainer.job.close()
    load_after = os.getloadavg()
    tr, ba = statistics.median(t_trainer), statistics.median(t_bare)
    print(f"arch {arch} (demo, 128 px, batch 2, rank 8), {rounds} rounds x {steps} steps, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs")
    print(f"load average (1/5/15 min): before {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in load_after)}")
    print("per-round ratios trainer/bare: " + " ".join(f"{x:.3f}" for x in ratios))
    print(f"median step: trainer {tr * 1000:.1f} ms, bare loop {ba * 1000:.1f} ms")
    print(f"median of the per-round ratios: {statistics.median(ratios):.3f}  (goal <= 1.10; "
          f"spread {min(ratios):.3f}-{max(ratios):.3f})")


# -- GPU: full-size architecture ------------------------------------------------------------------
def _full_unet(arch: str):  # type: ignore[no-untyped-def]
    from diffusers import UNet2DConditionModel

    if arch == "sdxl":
        return UNet2DConditionModel(
            sample_size=128, in_channels=4, out_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), cross_attention_dim=2048,
            use_linear_projection=True, addition_embed_type="text_time", addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        ), 2048, 128
    return UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8), 768, 64


def gpu(arch: str, device: str, peak: float | None, steps: int) -> None:
    from peft import LoraConfig
    from torch.utils.flop_counter import FlopCounterMode

    name = torch.cuda.get_device_name(device)
    peak = peak or next((v for k, v in PEAKS.items() if k in name), None)
    torch.manual_seed(0)
    unet, ctx_dim, lat = _full_unet(arch)
    unet.requires_grad_(False)
    unet.to(device, dtype=torch.bfloat16)
    unet.add_adapter(LoraConfig(r=16, lora_alpha=16, init_lora_weights="gaussian", target_modules=UNET_TARGETS))
    for q in unet.parameters():
        if q.requires_grad:
            q.data = q.data.float()
    unet.enable_gradient_checkpointing()
    params = [q for q in unet.parameters() if q.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, foreach=True)
    print(f"GPU {name}, {arch} full size at {lat * 8} px, bf16, LoRA rank 16, gradient checkpointing")
    for batch in (1, 4):
        latents = torch.randn(batch, 4, lat, lat, device=device)
        hidden = torch.randn(batch, 77, ctx_dim, device=device, dtype=torch.bfloat16)
        added = ({"text_embeds": torch.randn(batch, 1280, device=device, dtype=torch.bfloat16),
                  "time_ids": torch.tensor([[lat * 8, lat * 8, 0, 0, lat * 8, lat * 8]] * batch, device=device,
                                           dtype=torch.bfloat16)} if arch == "sdxl" else None)

        def step() -> None:
            t = torch.randint(0, 1000, (batch,), device=device)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                pred = unet(latents.bfloat16(), t, hidden, added_cond_kwargs=added, return_dict=False)[0]
            F.mse_loss(pred.float(), latents).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)

        for _ in range(3):
            step()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        started = time.perf_counter()
        for _ in range(steps):
            step()
        torch.cuda.synchronize()
        s_it = (time.perf_counter() - started) / steps
        mem = torch.cuda.max_memory_allocated(device) / 2**30
        with FlopCounterMode(display=False) as counter:
            step()
        tflops = counter.get_total_flops() / s_it / 1e12
        util = f" = {tflops / peak * 100:.1f}% of the {peak:.0f} TFLOP/s bf16 peak" if peak else ""
        print(f"batch {batch}: {s_it:.3f} s/it, peak memory {mem:.1f} GiB, {tflops:.1f} TFLOP/s achieved{util}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--arch", choices=["sd15", "sdxl"], default="sd15")
    ap.add_argument("--full-size", action="store_true", help="GPU: the real architecture's size (random weights)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--peak-tflops", type=float, default=None)
    args = ap.parse_args()
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            sys.exit("no CUDA device here: run the GPU mode on a machine with a GPU")
        gpu(args.arch if args.full_size else args.arch, args.device, args.peak_tflops, args.steps)
    else:
        cpu(args.arch, args.steps, args.rounds)


if __name__ == "__main__":
    main()
