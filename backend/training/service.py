"""LoRA training runs (validate, estimate, submit, steer) and the trained LoRAs (list, download, delete)."""

from __future__ import annotations

import importlib.util
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backend.basemodels.service import BaseModel, get_model
from backend.context import Ctx
from backend.db import session_scope
from backend.errors import InvalidInput, NotFound
from backend.jobs import service as jobs
from backend.jobs.models import JobOut
from backend.storage import get_storage
from backend.storage.keys import object_key, prefix_of, safe_filename
from backend.tenancy import get_owned
from backend.training import specs  # noqa: F401 - declares the job type for submit()
from backend.training.models import LoraModel, LoraOut, TrainingParams, TrainRequest
from backend.training.presets import PRESETS, default_preset
from backend.training.specs import TRAINING_JOB
from backend.validation import parse

_STEP_DIR = re.compile(r"/checkpoints/step-(\d+)/")
_SAMPLE = re.compile(r"/samples/step-(\d+)-(\d+)\.png$")
TRIGGER_TOKEN = "[trigger]"


# -- parameters -------------------------------------------------------------------------------------
def available_optimizers() -> list[str]:
    """AdamW always; AdamW8bit and Prodigy when their packages are installed."""
    out = ["adamw"]
    if importlib.util.find_spec("bitsandbytes") is not None:
        out.append("adamw8bit")
    if importlib.util.find_spec("prodigyopt") is not None:
        out.append("prodigy")
    return out


def preset_values(preset: str) -> dict[str, Any]:
    """The parameter values of ``preset``; InvalidInput when unknown."""
    if preset not in PRESETS:
        raise InvalidInput("unknown preset", [f"{preset!r} is not one of {', '.join(PRESETS)}"])
    return dict(PRESETS[preset].values)


def build_params(preset: str | None, overrides: dict[str, Any] | None = None) -> TrainingParams:
    """The preset's values with ``overrides`` on top, validated (InvalidInput lists every problem)."""
    values = preset_values(preset) if preset else {}
    values.update(overrides or {})
    return parse(TrainingParams, values, what="invalid training parameters")


def parse_set_args(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` strings (the CLI's --set) as a dict; pydantic converts the values' types."""
    fields = TrainingParams.model_fields
    out: dict[str, Any] = {}
    reasons: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            reasons.append(f"{pair!r} is not key=value")
        elif key not in fields:
            reasons.append(f"unknown parameter {key!r}")
        elif key == "sample_prompts":
            out[key] = [p for p in value.split("|") if p.strip()]
        elif value.strip().lower() in ("none", "null", "") and not fields[key].is_required():
            out[key] = None
        else:
            out[key] = value.strip()
    if reasons:
        raise InvalidInput("invalid --set", reasons)
    return out


def steps_per_epoch(image_repeats: int, params: TrainingParams) -> int:
    """Optimizer steps in one epoch: images x repeats / batch / gradient accumulation."""
    batches = math.ceil(image_repeats / params.batch_size)
    return max(1, math.ceil(batches / params.gradient_accumulation))


def total_steps(image_repeats: int, params: TrainingParams) -> int:
    """The run's optimizer steps: ``max_steps`` when set, else epochs x steps per epoch."""
    if params.max_steps:
        return params.max_steps
    return params.epochs * steps_per_epoch(image_repeats, params)


def substitute_trigger(prompt: str, trigger: str) -> str:
    """``[trigger]`` in a sample prompt becomes the trigger word."""
    return prompt.replace(TRIGGER_TOKEN, trigger).strip()


@dataclass(frozen=True)
class Estimate:
    total_steps: int
    steps_per_epoch: int
    seconds: float
    memory_gb: float
    device: str  # what the figures assume

    def public(self) -> dict[str, Any]:
        return {"total_steps": self.total_steps, "steps_per_epoch": self.steps_per_epoch,
                "seconds": round(self.seconds), "memory_gb": round(self.memory_gb, 1), "device": self.device}


# Rough per-step costs (s/it at batch 1 and the native resolution) and weights in memory (GB, 16-bit)
# on a recent data-centre GPU, scaled by pixels and batch; the demos run on CPU.
_GPU_S_PER_IT = {"sd15": 0.12, "sdxl": 0.45}
_WEIGHTS_GB = {"sd15": 2.2, "sdxl": 7.0}
_ACT_GB_PER_MPIX = {"sd15": 6.0, "sdxl": 9.0}  # activations per megapixel of batch, no checkpointing


def estimate(model: BaseModel, params: TrainingParams, image_repeats: int) -> Estimate:
    """Estimated steps, duration and peak memory of a run (a guide, not a promise)."""
    steps = total_steps(image_repeats, params)
    per_epoch = steps_per_epoch(image_repeats, params)
    micro = params.batch_size * params.gradient_accumulation
    if model.is_demo:
        s_it = 0.02 * micro * (params.resolution / 64) ** 2
        mem = 0.3 + 0.05 * micro * (params.resolution / 64) ** 2
        device = "CPU (demo model)"
    else:
        arch = model.architecture
        scale = (params.resolution / model.native_resolution) ** 2
        s_it = _GPU_S_PER_IT[arch] * scale * micro * (1.3 if params.gradient_checkpointing else 1.0)
        if params.train_text_encoder:
            s_it *= 1.15
        act = _ACT_GB_PER_MPIX[arch] * params.batch_size * (params.resolution**2 / 1e6)
        if params.gradient_checkpointing:
            act *= 0.35
        weights = _WEIGHTS_GB[arch] * (2.0 if params.mixed_precision == "no" else 1.0)
        lora_states = 4 * 4 * params.rank * 1e-3  # LoRA weights, grads and two Adam moments (fp32)
        mem = weights + act + lora_states + 0.8
        device = "GPU"
    samples = (steps // params.sample_every if params.sample_every else 1) * max(1, len(params.sample_prompts))
    sample_s = samples * params.sample_steps * (s_it / micro) * 0.4
    return Estimate(total_steps=steps, steps_per_epoch=per_epoch, seconds=steps * s_it + sample_s + 20,
                    memory_gb=mem, device=device)


# -- submit and steer -------------------------------------------------------------------------------
def _dataset_checks(ctx: Ctx, dataset_id: str, reasons: list[str]) -> tuple[Any, int]:
    from backend.datasets import service as datasets

    # Another workspace's dataset must answer "not found" like any other object, not a refusal.
    ds = datasets.get_dataset(ctx, dataset_id)
    items = datasets.training_items(ctx, dataset_id)
    if not items:
        reasons.append(f"dataset {ds.name!r} has no images: upload photos first")
    return ds, sum(i.repeats for i in items)


def validate(ctx: Ctx, request: dict[str, Any]) -> tuple[TrainRequest, BaseModel, Estimate]:
    """Check a run before submitting: parameters, base model, dataset and their fit; every reason at once."""
    raw = dict(request)
    preset = raw.get("preset")
    overrides = dict(raw.get("params") or {})
    reasons: list[str] = []
    model: BaseModel | None = None
    try:
        model = get_model(str(raw.get("base_model", "")))
    except NotFound:
        reasons.append(f"base model {raw.get('base_model')!r} not found (see `python -m backend models list`)")
    if preset is None and model is not None:
        preset = default_preset(model)
    try:
        values = preset_values(preset) if preset else {}
    except InvalidInput as err:
        reasons += err.reasons
        values = {}
    values.update(overrides)
    try:
        req = parse(TrainRequest, {**raw, "preset": preset, "params": values}, what="invalid training request")
    except InvalidInput as err:
        raise InvalidInput("training refused", reasons + err.reasons) from None
    params = req.params
    if params.optimizer not in available_optimizers():
        reasons.append(f"optimizer {params.optimizer} needs a package that is not installed "
                       f"(available: {', '.join(available_optimizers())})")
    if params.train_text_encoder and params.text_encoder_lr <= 0:
        reasons.append("train_text_encoder needs text_encoder_lr > 0")
    ds, image_repeats = _dataset_checks(ctx, req.dataset_id, reasons)
    if reasons or model is None or ds is None:
        raise InvalidInput("training refused", reasons)
    steps = total_steps(image_repeats, params)
    if params.lr_warmup_steps >= steps and params.lr_scheduler != "constant":
        reasons.append(f"lr_warmup_steps ({params.lr_warmup_steps}) must be below the total steps ({steps})")
    if reasons:
        raise InvalidInput("training refused", reasons)
    trigger = req.trigger_word or getattr(ds, "trigger_word", "") or ""
    name = req.name or f"{ds.name} LoRA"
    req = req.model_copy(update={"trigger_word": trigger, "name": name})
    return req, model, estimate(model, params, image_repeats)


def submit(ctx: Ctx, *, dataset_id: str, base_model: str, preset: str | None = None,
           params: dict[str, Any] | None = None, name: str = "", trigger_word: str = "") -> JobOut:
    """Validate and queue a LoRA training run on the gpu queue."""
    ctx.require("editor")
    req, model, est = validate(ctx, {"dataset_id": dataset_id, "base_model": base_model, "preset": preset,
                                     "params": params or {}, "name": name, "trigger_word": trigger_word})
    payload = {**req.model_dump(mode="json"), "architecture": model.architecture, "estimate": est.public()}
    return jobs.submit(ctx, TRAINING_JOB, payload, subject_id=req.dataset_id)


def _training_job(ctx: Ctx, job_id: str) -> JobOut:
    job = jobs.get(ctx, job_id)
    if job.type != TRAINING_JOB:
        raise NotFound("training run", job_id)
    return job


def get_run(ctx: Ctx, job_id: str) -> JobOut:
    """A training run (its job) of the caller's workspace."""
    return _training_job(ctx, job_id)


def list_runs(ctx: Ctx, *, limit: int = 50) -> list[JobOut]:
    """The workspace's training runs, newest first."""
    return jobs.list_jobs(ctx, job_type=TRAINING_JOB, limit=limit)[0]


def stop(ctx: Ctx, job_id: str) -> JobOut:
    """Stop keeping the work: the trainer saves a checkpoint and ends cancelled, resumable."""
    _training_job(ctx, job_id)
    return jobs.request_stop(ctx, job_id)


def resume(ctx: Ctx, job_id: str) -> JobOut:
    """Queue a stopped, cancelled or failed run again; it continues from its newest checkpoint."""
    _training_job(ctx, job_id)
    return jobs.retry(ctx, job_id)


def cancel(ctx: Ctx, job_id: str) -> JobOut:
    """Cancel a run (its checkpoints stay, so it can still be resumed)."""
    _training_job(ctx, job_id)
    return jobs.cancel(ctx, job_id)


def save_now(ctx: Ctx, job_id: str) -> JobOut:
    """Ask the running trainer for a checkpoint at the next step."""
    _training_job(ctx, job_id)
    return jobs.request(ctx, job_id, "save_now")


def sample_now(ctx: Ctx, job_id: str) -> JobOut:
    """Ask the running trainer for sample images at the next step."""
    _training_job(ctx, job_id)
    return jobs.request(ctx, job_id, "sample_now")


# -- run artefacts in storage: {tenant}/loras/{job_id}/checkpoints|samples ---------------------------
def run_key(tenant_id: str, job_id: str, file: str) -> str:
    """The storage key of ``file`` of a run (checkpoints, samples)."""
    return object_key(tenant_id, "loras", job_id, file)


def checkpoint_dir(step: int) -> str:
    return f"checkpoints/step-{step:08d}"


def sample_file(step: int, index: int) -> str:
    return f"samples/step-{step:08d}-{index:02d}.png"


def checkpoints(ctx: Ctx, job_id: str) -> list[dict[str, Any]]:
    """The run's complete checkpoints, oldest first: step, LoRA key, training-state key."""
    _training_job(ctx, job_id)
    return list_checkpoints(ctx.tenant_id, job_id)


def list_checkpoints(tenant_id: str, job_id: str) -> list[dict[str, Any]]:
    """Complete checkpoints (state written last marks one complete) of a run, oldest first."""
    keys = get_storage().list(prefix_of(tenant_id, "loras", job_id) + "checkpoints/")
    found: dict[int, dict[str, Any]] = {}
    for key in keys:
        m = _STEP_DIR.search(key)
        if m:
            found.setdefault(int(m.group(1)), {})[key.rsplit("/", 1)[-1]] = key
    return [
        {"step": step, "lora_key": files["lora.safetensors"], "state_key": files["state.pt"]}
        for step, files in sorted(found.items())
        if "state.pt" in files and "lora.safetensors" in files
    ]


def samples(ctx: Ctx, job_id: str) -> list[dict[str, Any]]:
    """The run's sample images: step, prompt index, prompt and key, by step then index."""
    job = _training_job(ctx, job_id)
    prompts = [substitute_trigger(p, job.payload.get("trigger_word", ""))
               for p in job.payload.get("params", {}).get("sample_prompts", [])]
    out = []
    for key in get_storage().list(prefix_of(ctx.tenant_id, "loras", job_id) + "samples/"):
        m = _SAMPLE.search(key)
        if m:
            idx = int(m.group(2))
            out.append({"step": int(m.group(1)), "index": idx, "key": key,
                        "prompt": prompts[idx] if idx < len(prompts) else ""})
    return sorted(out, key=lambda s: (s["step"], s["index"]))


def artifact_bytes(ctx: Ctx, job_id: str, key: str) -> bytes:
    """A checkpoint or sample of the caller's run (by key; another run's key is not found)."""
    _training_job(ctx, job_id)
    if not key.startswith(prefix_of(ctx.tenant_id, "loras", job_id)):
        raise NotFound("file", key)
    return get_storage().get_bytes(key)


# -- trained LoRAs ----------------------------------------------------------------------------------
def _lora_out(row: LoraModel) -> LoraOut:
    return LoraOut.model_validate(row, from_attributes=True)


def lora_file_key(tenant_id: str, lora_id: str, name: str) -> str:
    return object_key(tenant_id, "loras", lora_id, safe_filename(name.replace(" ", "_"), default="lora") + ".safetensors")


def record_lora(ctx: Ctx, *, job_id: str, lora_id: str, file_key: str, size_bytes: int, name: str,
                trigger_word: str, base_model: str, architecture: str, dataset_id: str, dataset_hash: str,
                params: TrainingParams, steps: int, final_loss: float | None,
                sample_list: list[dict[str, Any]]) -> LoraOut:
    """Store the trained LoRA of ``job_id`` (idempotent: a redelivered job finds the same row)."""
    with session_scope() as s:
        existing = s.scalars(select(LoraModel).where(LoraModel.tenant_id == ctx.tenant_id,
                                                     LoraModel.job_id == job_id)).first()
        row = existing or LoraModel(id=lora_id, tenant_id=ctx.tenant_id, job_id=job_id)
        row.name, row.trigger_word, row.base_model, row.architecture = name, trigger_word, base_model, architecture
        row.dataset_id, row.dataset_hash, row.file_key, row.size_bytes = dataset_id, dataset_hash, file_key, size_bytes
        row.rank, row.alpha, row.resolution = params.rank, params.alpha, params.resolution
        row.steps, row.final_loss, row.samples = steps, final_loss, sample_list
        row.params = params.model_dump(mode="json")
        if existing is None:
            s.add(row)
        s.flush()
        return _lora_out(row)


def lora_for_job(ctx: Ctx, job_id: str) -> LoraOut | None:
    """The LoRA a run produced, if it finished."""
    with session_scope() as s:
        row = s.scalars(select(LoraModel).where(LoraModel.tenant_id == ctx.tenant_id, LoraModel.job_id == job_id)).first()
        return _lora_out(row) if row else None


def list_loras(ctx: Ctx, *, base_model: str | None = None, architecture: str | None = None) -> list[LoraOut]:
    """The workspace's LoRAs, newest first (optionally of one base model or architecture)."""
    conds = [LoraModel.tenant_id == ctx.tenant_id]
    if base_model:
        conds.append(LoraModel.base_model == base_model)
    if architecture:
        conds.append(LoraModel.architecture == architecture)
    with session_scope() as s:
        rows = s.scalars(select(LoraModel).where(*conds).order_by(LoraModel.created_at.desc(), LoraModel.id))
        return [_lora_out(r) for r in rows]


def get_lora(ctx: Ctx, lora_id: str) -> LoraOut:
    """One LoRA of the caller's workspace."""
    with session_scope() as s:
        return _lora_out(get_owned(s, LoraModel, ctx, lora_id, kind="LoRA"))


def lora_filename(lora: LoraOut) -> str:
    return lora.file_key.rsplit("/", 1)[-1]


def lora_bytes(ctx: Ctx, lora_id: str) -> bytes:
    """The LoRA's .safetensors content."""
    return get_storage().get_bytes(get_lora(ctx, lora_id).file_key)


def download_lora(ctx: Ctx, lora_id: str, dest: Path) -> Path:
    """Copy the LoRA's .safetensors to the local file (or into the folder) ``dest``."""
    lora = get_lora(ctx, lora_id)
    if dest.is_dir():
        dest = dest / lora_filename(lora)
    return get_storage().download(lora.file_key, dest)


def rename_lora(ctx: Ctx, lora_id: str, name: str) -> LoraOut:
    """Give a LoRA a new display name."""
    ctx.require("editor")
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput("invalid name", ["a name has 1 to 120 characters"])
    with session_scope() as s:
        row = get_owned(s, LoraModel, ctx, lora_id, kind="LoRA")
        row.name = name
        s.flush()
        return _lora_out(row)


def delete_lora(ctx: Ctx, lora_id: str) -> None:
    """Delete a LoRA and its file (the run's checkpoints and samples stay with the run)."""
    ctx.require("editor")
    lora = get_lora(ctx, lora_id)
    get_storage().delete_prefix(prefix_of(ctx.tenant_id, "loras", lora.id))
    with session_scope() as s:
        row = s.get(LoraModel, lora_id)
        if row is not None:
            s.delete(row)
