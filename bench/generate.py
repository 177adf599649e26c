"""Builtin backend images/s against a bare diffusers pipeline call (same model, size, steps, LoRA), same run.

    .venv/bin/python bench/generate.py [--base-model demo-sd15|demo-sdxl|NAME] [--size 64] [--steps 4] [--images 4]

Prints both rates and the ratio bare/builtin time (goal: <= 1.05). On a GPU, pass a full-size model
(e.g. an SDXL-architecture folder with random weights) with --size 1024 --steps 30 for s/image.
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-model", default="demo-sd15")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--no-lora", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("STUDIO_DATA_DIR", tempfile.mkdtemp(prefix="bench-gen-"))

    import torch

    from backend.generation.images import LoraFile, RenderJob
    from tests.generation.loras import write_kohya_lora
    from workers.pipelines.images import BuiltinBackend

    backend = BuiltinBackend()
    pipe = backend.pipeline(args.base_model)
    loras = []
    if not args.no_lora:
        path = write_kohya_lora(pipe, Path(os.environ["STUDIO_DATA_DIR"]) / "bench-lora.safetensors")
        loras = [LoraFile("bench", "bench", 0.8, str(path))]
    job = RenderJob(prompt="a photo of ohwx woman on a beach", negative_prompt="blurry", base_model=args.base_model,
                    width=args.size, height=args.size, steps=args.steps, guidance=7.0, scheduler="euler", seed=1,
                    num_images=1, loras=loras)

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    def builtin_once() -> None:
        backend.render(job, progress=lambda f, m: None, cancelled=lambda: False)

    def bare_once() -> None:
        # The same work without the studio: LoRA loaded and unloaded, one pipeline call.
        if loras:
            pipe.load_lora_weights(str(Path(loras[0].path).parent), weight_name=Path(loras[0].path).name, adapter_name="b")
            pipe.set_adapters(["b"], adapter_weights=[0.8])
        g = torch.Generator(device=backend.device).manual_seed(1)
        pipe(prompt=job.prompt, negative_prompt=job.negative_prompt, width=args.size, height=args.size,
             num_inference_steps=args.steps, guidance_scale=7.0, generator=g, output_type="pil").images[0].save(
            Path(os.environ["STUDIO_DATA_DIR"]) / "bare.png")
        if loras:
            pipe.unload_lora_weights()

    builtin_once(), bare_once()  # warm up both paths
    load_before = os.getloadavg()[0]
    laps: dict[str, list[float]] = {"bare": [], "builtin": []}
    for i in range(args.images):  # interleaved, alternating who goes first, so drift hits both equally
        order = (("bare", bare_once), ("builtin", builtin_once))
        for name, fn in (order if i % 2 == 0 else order[::-1]):
            sync()
            t = time.perf_counter()
            fn()
            sync()
            laps[name].append(time.perf_counter() - t)
    n = args.images
    times = {k: sum(v) for k, v in laps.items()}
    # The median of per-pair ratios resists the bursts of other processes on a shared machine.
    pair_ratios = sorted(b / a for a, b in zip(laps["bare"], laps["builtin"], strict=True))
    print(f"device={backend.device} model={args.base_model} size={args.size} steps={args.steps} lora={not args.no_lora}")
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"bare diffusers: {n / times['bare']:.3f} images/s ({times['bare'] / n:.3f} s/image)")
    print(f"builtin backend: {n / times['builtin']:.3f} images/s ({times['builtin'] / n:.3f} s/image)")
    print(f"ratio builtin/bare time: {times['builtin'] / times['bare']:.3f} (goal <= 1.05); "
          f"median of {n} pairs: {statistics.median(pair_ratios):.3f}")


if __name__ == "__main__":
    main()
