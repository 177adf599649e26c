"""Image generation requests: sizes, seeds, LoRAs, the backends' shared interface, PNG metadata."""

from __future__ import annotations

import io
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, field_validator, model_validator

from backend.context import Ctx
from backend.errors import InvalidInput
from backend.jobs import service as jobs
from backend.jobs.models import JobOut
from backend.jobs.specs import JobSpec, register
from backend.settings import get_settings
from backend.validation import parse

IMAGE_JOB = register(JobSpec("generation.image", queue="gpu", max_attempts=2, time_limit_s=3600, backoff_s=10))

SIZE_PRESETS: dict[str, tuple[int, int]] = {
    "feed 4:5 (1080×1350)": (1080, 1350),
    "story / reel 9:16 (1080×1920)": (1080, 1920),
    "square 1:1 (1080×1080)": (1080, 1080),
}
SCHEDULERS = ("euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "ddim", "unipc", "heun", "lms")
Scheduler = Literal["euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "ddim", "unipc", "heun", "lms"]
MAX_SEED = 2**32 - 1


def parse_size(text: str) -> tuple[int, int]:
    """'1080x1350' (or a preset's name) -> (width, height)."""
    for name, wh in SIZE_PRESETS.items():
        if text == name:
            return wh
    try:
        w, h = text.lower().replace("×", "x").split("x")
        return int(w), int(h)
    except ValueError:
        raise InvalidInput("invalid size", [f"{text!r}: write WIDTHxHEIGHT, e.g. 1080x1350"]) from None


def render_size(width: int, height: int) -> tuple[int, int]:
    """The size the model renders (multiples of 8, rounded up); the image is then centre-cropped."""
    return int(math.ceil(width / 8) * 8), int(math.ceil(height / 8) * 8)


class LoraChoice(BaseModel):
    id: str = Field(min_length=1, max_length=32)
    strength: float = Field(0.8, ge=-2.0, le=2.0)


class ImageRequest(BaseModel):
    """Everything one image job needs; the seed is fixed at submit time so it is always recorded."""

    model_config = {"extra": "forbid"}

    prompt: str = Field(min_length=1, max_length=4000)
    negative_prompt: str = Field("", max_length=4000)
    loras: list[LoraChoice] = Field(default_factory=list, max_length=5)
    base_model: str | None = None
    width: int = Field(1080, ge=64, le=2048)
    height: int = Field(1350, ge=64, le=2048)
    steps: int = Field(30, ge=1, le=150)
    guidance: float = Field(7.0, ge=0.0, le=30.0)
    scheduler: Scheduler = "euler"
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    num_images: int = Field(1, ge=1, le=8)
    influencer_id: str | None = None
    backend: Literal["builtin", "comfyui"] | None = None
    workflow: Literal["txt2img", "img2img"] = "txt2img"
    init_asset_id: str | None = None  # img2img input
    denoise: float = Field(0.6, gt=0.0, le=1.0)  # img2img strength

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("write a prompt")
        return v.strip()

    @model_validator(mode="after")
    def _check(self) -> ImageRequest:
        sizes_preset = set(SIZE_PRESETS.values())
        if (self.width, self.height) not in sizes_preset and (self.width % 8 or self.height % 8):
            raise ValueError(f"custom sizes must be multiples of 8 ({self.width}x{self.height} is not); "
                             "or pick a preset: " + ", ".join(SIZE_PRESETS))
        if self.workflow == "img2img" and not self.init_asset_id:
            raise ValueError("img2img needs an input image (init_asset_id)")
        if len({lo.id for lo in self.loras}) != len(self.loras):
            raise ValueError("the same LoRA is listed twice")
        return self


def parse_lora_arg(text: str, default_strength: float = 0.8) -> LoraChoice:
    """'ID' or 'ID:STRENGTH' (the CLI's --lora)."""
    lid, _, strength = text.partition(":")
    try:
        return LoraChoice(id=lid.strip(), strength=float(strength) if strength else default_strength)
    except ValueError:
        raise InvalidInput("invalid --lora", [f"{text!r}: write ID or ID:STRENGTH"]) from None


def submit_images(ctx: Ctx, **fields: Any) -> JobOut:
    """Validate and queue a "generation.image" job (random seed chosen now when none given)."""
    ctx.require("editor")
    req = parse(ImageRequest, fields, what="invalid image request")
    from backend.generation.loras import get_lora_ref

    refs = [get_lora_ref(ctx, lo.id) for lo in req.loras]  # NotFound for another workspace's LoRA
    base_model = req.base_model or (refs[0].base_model if refs else get_settings().generation_base_model)
    backend = req.backend or get_settings().generation_backend
    if backend == "builtin":
        from backend.basemodels.service import get_model

        model = get_model(base_model)
        wrong = [f"LoRA {r.name} was trained on {r.architecture}, the base model {base_model} is {model.architecture}"
                 for r in refs if r.architecture and r.architecture != model.architecture]
        if wrong:
            raise InvalidInput("LoRA and base model do not match", wrong)
    if req.influencer_id:
        from backend.influencers.service import get_influencer

        get_influencer(ctx, req.influencer_id)
    if req.init_asset_id:
        from backend.generation.service import get_asset

        get_asset(ctx, req.init_asset_id)
    seed = req.seed if req.seed is not None else random.SystemRandom().randint(0, MAX_SEED - 16)
    payload = req.model_dump() | {"seed": seed, "base_model": base_model, "backend": backend,
                                  "lora_names": {r.id: r.name for r in refs},
                                  "lora_triggers": {r.id: r.trigger_word for r in refs}}
    return jobs.submit(ctx, IMAGE_JOB.name, payload, subject_id=req.influencer_id)


# -- the backends' shared interface -------------------------------------------------------------
@dataclass
class LoraFile:
    id: str
    name: str
    strength: float
    path: str  # local .safetensors (builtin) or the file name ComfyUI knows (comfyui)


@dataclass
class RenderJob:
    """One request as a backend sees it: LoRAs resolved, seed fixed."""

    prompt: str
    negative_prompt: str
    base_model: str
    width: int
    height: int
    steps: int
    guidance: float
    scheduler: str
    seed: int
    num_images: int
    loras: list[LoraFile] = field(default_factory=list)
    workflow: str = "txt2img"
    init_image: bytes | None = None
    denoise: float = 0.6


@dataclass
class RenderedImage:
    png: bytes
    seed: int
    width: int
    height: int
    extra: dict[str, Any] = field(default_factory=dict)  # backend-specific facts (comfyui prompt id, ...)


# progress(images_done_fraction 0..1, message); cancelled() -> True stops the backend
ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]
ImageFn = Callable[["RenderedImage"], None]  # called with each image as soon as it is rendered


class ImageBackend(Protocol):
    name: str

    def render(self, job: RenderJob, *, progress: ProgressFn, cancelled: CancelFn,
               on_image: ImageFn | None = None) -> list[RenderedImage]:
        """Render ``job.num_images`` images with seeds ``seed, seed+1, ...`` (each passed to ``on_image`` when done)."""
        ...


def asset_params(job: RenderJob, image: RenderedImage, *, backend: str, index: int) -> dict[str, Any]:
    """Every parameter of one image, as stored on its asset and in its PNG."""
    rw, rh = render_size(job.width, job.height)
    return {
        "seed": image.seed, "steps": job.steps, "guidance": job.guidance, "scheduler": job.scheduler,
        "width": job.width, "height": job.height, "size": f"{job.width}x{job.height}", "render_size": f"{rw}x{rh}",
        "base_model": job.base_model, "backend": backend, "workflow": job.workflow, "index": index,
        "loras": [{"id": lo.id, "name": lo.name, "strength": lo.strength} for lo in job.loras],
        "prompt": job.prompt, "negative_prompt": job.negative_prompt,
        **({"denoise": job.denoise} if job.workflow == "img2img" else {}), **image.extra,
    }


def a1111_parameters(params: dict[str, Any]) -> str:
    """The parameters in the A1111 'parameters' text-chunk format other tools read."""
    loras = " ".join(f"<lora:{lo['name']}:{lo['strength']}>" for lo in params.get("loras", []))
    text = params.get("prompt", "") + (f" {loras}" if loras else "")
    if params.get("negative_prompt"):
        text += f"\nNegative prompt: {params['negative_prompt']}"
    text += (f"\nSteps: {params['steps']}, Sampler: {params['scheduler']}, CFG scale: {params['guidance']}, "
             f"Seed: {params['seed']}, Size: {params['size']}, Model: {params['base_model']}")
    return text


def png_with_metadata(png: bytes, params: dict[str, Any]) -> bytes:
    """The PNG re-written with 'parameters' (A1111 style) and 'studio' (JSON) text chunks."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", a1111_parameters(params))
    info.add_itxt("studio", json.dumps(params, sort_keys=True, default=str))
    with Image.open(io.BytesIO(png)) as im:
        out = io.BytesIO()
        im.save(out, format="PNG", pnginfo=info)
        return out.getvalue()


def png_metadata(png: bytes) -> dict[str, Any]:
    """The 'studio' parameters stored in a PNG by png_with_metadata ({} when absent)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        raw = im.info.get("studio") if hasattr(im, "info") else None
        text = getattr(im, "text", {}) or {}
        raw = raw or text.get("studio")
    return json.loads(raw) if raw else {}


def centre_crop(png: bytes, width: int, height: int) -> bytes:
    """Crop a rendered image (multiple-of-8 size) to the requested size."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        if im.size == (width, height):
            return png
        left, top = (im.width - width) // 2, (im.height - height) // 2
        out = io.BytesIO()
        im.crop((left, top, left + width, top + height)).save(out, format="PNG")
        return out.getvalue()
