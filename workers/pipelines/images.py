"""The "generation.image" job and the builtin backend: a diffusers pipeline kept loaded in the worker."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

# torch and diffusers are imported inside the functions that render: importing them here would
# add seconds to the start of every worker process (cpu workers never render).
from backend.generation.images import (
    CancelFn,
    ImageFn,
    LoraFile,
    ProgressFn,
    RenderedImage,
    RenderJob,
    asset_params,
    centre_crop,
    png_with_metadata,
    render_size,
)
from backend.generation.service import asset_bytes, create_asset_from_bytes, delete_asset, list_assets
from backend.jobs.errors import JobCancelled, PermanentError
from backend.settings import get_settings
from workers.context import JobContext
from workers.registry import handler

_SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "dpmpp_2m": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": False}),
    "dpmpp_2m_karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "ddim": ("DDIMScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
}


class _Stop(Exception):
    """Raised from the step callback when the job is cancelled."""


def default_device() -> str:
    s = get_settings().generation_device
    if s:
        return s
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class BuiltinBackend:
    """diffusers in this process: the pipeline of the last base model stays loaded between jobs.

    LoRAs are loaded as named adapters for one job and unloaded afterwards, so the next job starts
    from the clean base weights.
    """

    name = "builtin"
    _lock = threading.Lock()  # one render at a time per process (the gpu queue has one thread anyway)
    _loaded: dict[str, Any] = {}

    def __init__(self, *, device: str | None = None) -> None:
        import torch

        self.device = device or default_device()
        self.dtype = torch.float16 if self.device.startswith("cuda") else torch.float32

    # -- the pipeline cache -----------------------------------------------------------------
    def pipeline(self, base_model: str) -> Any:
        """The loaded pipeline of ``base_model`` (loading it, and dropping another, when needed)."""
        key = (base_model, self.device, str(self.dtype))
        cache = BuiltinBackend._loaded
        if cache.get("key") != key:
            cache.clear()
            if self.device.startswith("cuda"):
                import torch

                torch.cuda.empty_cache()
            from workers.pipelines.diffusion import load_pipeline

            pipe = load_pipeline(base_model, device=self.device, dtype=self.dtype)
            cache.update(key=key, pipe=pipe, scheduler_config=dict(pipe.scheduler.config))
        return cache["pipe"]

    @classmethod
    def loaded_model(cls) -> str | None:
        key = cls._loaded.get("key")
        return key[0] if key else None

    @classmethod
    def unload(cls) -> None:
        cls._loaded.clear()

    def _set_scheduler(self, pipe: Any, name: str) -> None:
        import diffusers

        cls_name, extra = _SCHEDULERS[name]
        config = BuiltinBackend._loaded["scheduler_config"]
        pipe.scheduler = getattr(diffusers, cls_name).from_config(config, **extra)

    # -- rendering ----------------------------------------------------------------------------
    def render(self, job: RenderJob, *, progress: ProgressFn, cancelled: CancelFn,
               on_image: ImageFn | None = None) -> list[RenderedImage]:
        with BuiltinBackend._lock:
            pipe = self.pipeline(job.base_model)
            self._set_scheduler(pipe, job.scheduler)
            names: list[str] = []
            try:
                for i, lo in enumerate(job.loras):
                    adapter = f"studio_{i}"
                    pipe.load_lora_weights(str(Path(lo.path).parent), weight_name=Path(lo.path).name, adapter_name=adapter)
                    names.append(adapter)
                if names:
                    pipe.set_adapters(names, adapter_weights=[lo.strength for lo in job.loras])
                return self._run(pipe, job, progress, cancelled, on_image)
            finally:
                if names:
                    pipe.unload_lora_weights()

    def _run(self, pipe: Any, job: RenderJob, progress: ProgressFn, cancelled: CancelFn,
             on_image: ImageFn | None) -> list[RenderedImage]:
        import torch

        rw, rh = render_size(job.width, job.height)
        out: list[RenderedImage] = []
        device_gen = "cpu" if self.device == "mps" else self.device
        for index in range(job.num_images):
            seed = job.seed + index

            def on_step(_pipe: Any, step: int, _t: Any, kwargs: dict[str, Any], index: int = index) -> dict[str, Any]:
                total = max(1, job.steps)
                progress((index + (step + 1) / total) / job.num_images, f"image {index + 1}/{job.num_images} · step {step + 1}/{total}")
                if cancelled():
                    raise _Stop()
                return kwargs

            kw: dict[str, Any] = dict(prompt=job.prompt, negative_prompt=job.negative_prompt or None,
                                      num_inference_steps=job.steps, guidance_scale=job.guidance,
                                      generator=torch.Generator(device=device_gen).manual_seed(seed),
                                      callback_on_step_end=on_step, output_type="pil")
            try:
                if job.workflow == "img2img":
                    from diffusers import AutoPipelineForImage2Image
                    from PIL import Image

                    init = Image.open(io.BytesIO(job.init_image or b"")).convert("RGB").resize((rw, rh))
                    i2i = AutoPipelineForImage2Image.from_pipe(pipe)
                    image = i2i(image=init, strength=job.denoise, **kw).images[0]
                else:
                    image = pipe(width=rw, height=rh, **kw).images[0]
            except _Stop:
                raise JobCancelled("cancelled during denoising") from None
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            out.append(RenderedImage(png=centre_crop(buf.getvalue(), job.width, job.height), seed=seed,
                                     width=job.width, height=job.height))
            if on_image:
                on_image(out[-1])
        return out


def backend_for(name: str) -> Any:
    """The backend called ``name``."""
    if name == "comfyui":
        from backend.generation.comfyui import ComfyBackend

        return ComfyBackend.from_settings()
    return BuiltinBackend()


def resolve_loras(job_ctx: JobContext, payload: dict[str, Any], backend: str) -> list[LoraFile]:
    """The job's LoRAs as files the backend can load."""
    from backend.generation.loras import lora_local_file

    names = payload.get("lora_names") or {}
    out = []
    for lo in payload.get("loras") or []:
        if backend == "comfyui":
            from backend.generation.comfyui import comfy_lora_name

            path = comfy_lora_name(job_ctx.ctx, lo["id"])
        else:
            path = str(lora_local_file(job_ctx.ctx, lo["id"], get_settings().data_dir / "cache" / "loras"))
        out.append(LoraFile(id=lo["id"], name=names.get(lo["id"], lo["id"]), strength=float(lo["strength"]), path=path))
    return out


def render_job_from_payload(job_ctx: JobContext) -> RenderJob:
    p = job_ctx.payload
    init = asset_bytes(job_ctx.ctx, p["init_asset_id"]) if p.get("init_asset_id") else None
    return RenderJob(prompt=p["prompt"], negative_prompt=p.get("negative_prompt") or "", base_model=p["base_model"],
                     width=int(p["width"]), height=int(p["height"]), steps=int(p["steps"]), guidance=float(p["guidance"]),
                     scheduler=p["scheduler"], seed=int(p["seed"]), num_images=int(p["num_images"]),
                     loras=resolve_loras(job_ctx, p, p.get("backend") or "builtin"), workflow=p.get("workflow", "txt2img"),
                     init_image=init, denoise=float(p.get("denoise", 0.6)))


@handler("generation.image")
def generate(ctx: JobContext) -> dict[str, Any]:
    backend_name = ctx.payload.get("backend") or "builtin"
    ctx.progress(0.0, stage="loading", message=f"{backend_name}: {ctx.payload['base_model']}", force=True)
    job = render_job_from_payload(ctx)
    backend = backend_for(backend_name)
    for stale in list_assets(ctx.ctx, job_id=ctx.job_id, limit=100):  # a previous attempt's partial batch
        delete_asset(ctx.ctx, stale.id)
    asset_ids: list[str] = []

    def progress(fraction: float, message: str) -> None:
        ctx.progress(min(0.99, fraction), stage="generating", message=message,
                     metrics={"images_done": len(asset_ids), "images": job.num_images})

    def cancelled() -> bool:
        return ctx.cancel_requested

    def save(img: RenderedImage) -> None:
        # Each image becomes an asset as soon as it exists: the page previews it while the batch
        # goes on, and a cancelled batch keeps the images it finished.
        index = len(asset_ids)
        params = asset_params(job, img, backend=backend_name, index=index)
        asset = create_asset_from_bytes(
            ctx.ctx, kind="image", data=png_with_metadata(img.png, params), filename=f"{img.seed}.png", mime="image/png",
            width=img.width, height=img.height, params=params, prompt=job.prompt, negative_prompt=job.negative_prompt,
            influencer_id=ctx.payload.get("influencer_id"), job_id=ctx.job_id, source_asset_id=ctx.payload.get("init_asset_id"),
        )
        asset_ids.append(asset.id)

    try:
        images = backend.render(job, progress=progress, cancelled=cancelled, on_image=save)
    except JobCancelled as err:
        raise JobCancelled(str(err), result={"asset_ids": asset_ids}) from None
    if not images:
        raise PermanentError(f"the {backend_name} backend returned no image")
    ctx.progress(1.0, stage="done", metrics={"images_done": len(asset_ids), "images": job.num_images}, force=True)
    return {"asset_ids": asset_ids, "seeds": [i.seed for i in images], "seed": job.seed, "backend": backend_name,
            "base_model": job.base_model, "width": job.width, "height": job.height}
