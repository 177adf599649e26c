"""The LoRA trainer: diffusers + PEFT + torch, SD 1.5 and SDXL, resumable from checkpoints.

One ``Trainer`` runs one job attempt: ``prepare()`` loads the base model, adds the LoRA adapters and
caches latents (and text embeddings when the text encoder is frozen); ``run()`` trains, reporting
through the JobContext, sampling and checkpointing, and honouring stop, cancel and the save-now /
sample-now requests between steps.
"""

from __future__ import annotations

import io
import logging
import math
import os
import resource
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from backend.datasets import service as datasets
from backend.jobs.errors import JobCancelled, PermanentError
from backend.storage import get_storage
from backend.training import service as training
from backend.training.models import TrainingParams
from workers.context import JobContext
from workers.pipelines.diffusion import load_pipeline
from workers.pipelines.training import kohya
from workers.pipelines.training.data import BatchPlan, Example, encode_images, plan_batches

log = logging.getLogger(__name__)
UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
HISTORY_POINTS = 400  # the loss chart keeps at most this many points (thinned evenly)
SMOOTHING = 0.9  # exponential moving average of the loss
POLL_S = 0.25  # the trainer reads stop / cancel / save-now / sample-now at most this often


def pick_device(preferred: str | None = None) -> torch.device:
    """The configured device, else CUDA when available, else CPU."""
    if preferred:
        return torch.device(preferred)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def memory_mb(device: torch.device) -> float:
    """Peak accelerator memory, or the process's peak resident memory on CPU, in MB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class RunInfo:
    """What the trainer needs from the job's payload."""

    job_id: str
    tenant_id: str
    dataset_id: str
    base_model: str
    architecture: str
    name: str
    trigger_word: str
    params: TrainingParams

    @classmethod
    def from_payload(cls, job_id: str, tenant_id: str, payload: dict[str, Any]) -> RunInfo:
        return cls(job_id=job_id, tenant_id=tenant_id, dataset_id=payload["dataset_id"],
                   base_model=payload["base_model"], architecture=payload.get("architecture", "sd15"),
                   name=payload.get("name") or "LoRA", trigger_word=payload.get("trigger_word", ""),
                   params=TrainingParams.model_validate(payload["params"]))


class Trainer:
    """Trains one LoRA run; see the module docstring."""

    def __init__(self, job: JobContext, run: RunInfo, *, device: torch.device | None = None) -> None:
        self.job = job
        self.run_info = run
        self.p = run.params
        self.device = device or pick_device()
        self.step = 0
        self.micro = 0
        self.loss_history: list[list[float]] = []  # [step, loss, smoothed]
        self.smoothed: float | None = None
        self.last_loss: float | None = None
        self.last_checkpoint_step = -1
        self.last_sample_step = -1
        self.resumed_from: int | None = None
        self.dataset_hash = ""
        self.stage = "training"
        self._step_times: list[float] = []
        self._last_poll = 0.0
        self.precision = self.p.mixed_precision
        if self.device.type != "cuda" and self.precision == "fp16":
            self.precision = "no"  # fp16 autocast is a GPU feature; CPU trains in fp32 then

    # -- setup -----------------------------------------------------------------------------------
    @property
    def weight_dtype(self) -> torch.dtype:
        if self.device.type == "cuda":
            return {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision, torch.float32)
        return torch.float32

    def autocast(self) -> Any:
        if self.precision == "no":
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def prepare(self) -> None:
        """Load the model, add the adapters, cache the data, build optimizer and LR schedule."""
        from diffusers import DDPMScheduler
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import cast_training_params
        from peft import LoraConfig

        p = self.p
        self.job.progress(0.0, stage="loading base model", message=self.run_info.base_model, force=True)
        torch.manual_seed(p.seed)
        pipe = load_pipeline(self.run_info.base_model, device=self.device, dtype=self.weight_dtype)
        self.pipe = pipe
        self.sdxl = self.run_info.architecture == "sdxl"
        self.text_encoders = [pipe.text_encoder] + ([pipe.text_encoder_2] if self.sdxl else [])
        self.tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if self.sdxl else [])
        self.unet = pipe.unet
        for m in [self.unet, pipe.vae, *self.text_encoders]:
            m.requires_grad_(False)
        if pipe.vae.dtype != torch.float32:
            pipe.vae.to(dtype=torch.float32)  # SD VAEs overflow in fp16; encoding is cached anyway
        self.unet.add_adapter(LoraConfig(r=p.rank, lora_alpha=p.alpha, init_lora_weights="gaussian",
                                         target_modules=UNET_TARGETS))
        if p.train_text_encoder:
            for te in self.text_encoders:
                te.add_adapter(LoraConfig(r=p.rank, lora_alpha=p.alpha, init_lora_weights="gaussian",
                                          target_modules=TEXT_TARGETS))
        trained = [self.unet] + (self.text_encoders if p.train_text_encoder else [])
        cast_training_params(trained, dtype=torch.float32)  # LoRA weights train in fp32
        if p.gradient_checkpointing:
            self.unet.enable_gradient_checkpointing()
            if p.train_text_encoder:
                for te in self.text_encoders:
                    te.gradient_checkpointing_enable()
        self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        self._cache_data()
        groups = [{"params": [q for q in self.unet.parameters() if q.requires_grad], "lr": p.learning_rate}]
        if p.train_text_encoder:
            te_params = [q for te in self.text_encoders for q in te.parameters() if q.requires_grad]
            groups.append({"params": te_params, "lr": p.text_encoder_lr})
        self.optimizer = build_optimizer(p, groups)
        per_epoch = math.ceil(self.plan.batches_per_epoch / p.gradient_accumulation)
        self.total = p.max_steps or p.epochs * per_epoch
        self.epochs = math.ceil(self.total / per_epoch)
        self.lr_scheduler = get_scheduler(p.lr_scheduler, self.optimizer, num_warmup_steps=p.lr_warmup_steps,
                                          num_training_steps=self.total)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.noise_gen = torch.Generator(device=self.device).manual_seed(p.seed)

    def _cache_data(self) -> None:
        p, ctx = self.p, self.job.ctx
        items = datasets.training_items(ctx, self.run_info.dataset_id)
        if not items:
            raise PermanentError("the dataset has no images")
        self.dataset_hash = datasets.dataset_hash(ctx, self.run_info.dataset_id)
        storage = get_storage()
        self.job.progress(0.0, stage="caching latents", message=f"{len(items)} images", force=True)
        blobs = []
        for item in items:
            try:
                blobs.append(storage.get_bytes(item.image_key))
            except Exception as err:  # noqa: BLE001 - a missing image makes the run impossible
                raise PermanentError(f"image {item.filename} cannot be read: {err}") from None
        encoded = encode_images(self.pipe.vae, blobs, resolution=p.resolution, device=self.device)
        captions = [(i.caption or self.run_info.trigger_word).strip() for i in items]
        self.examples = [Example(latents=lat, caption=c, bucket=b, time_ids=t)
                         for (lat, b, t), c in zip(encoded, captions)]
        self.plan: BatchPlan = plan_batches(self.examples, [i.repeats for i in items], batch_size=p.batch_size, seed=p.seed)
        self.text_cache: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        if not p.train_text_encoder:
            self.job.progress(0.0, stage="caching text embeddings", force=True)
            with torch.no_grad():
                for caption in {*captions, ""}:
                    h, pooled = self.encode_text([caption])
                    self.text_cache[caption] = (h[0], pooled[0] if pooled is not None else None)

    # -- model pieces ----------------------------------------------------------------------------
    def encode_text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Text conditioning as the pipelines compute it (SDXL: penultimate layers + pooled)."""
        if not self.sdxl:
            tok = self.tokenizers[0]
            ids = tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids.to(self.device)
            return self.text_encoders[0](ids)[0], None
        hidden, pooled = [], None
        for tok, te in zip(self.tokenizers, self.text_encoders):
            ids = tok(captions, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids.to(self.device)
            out = te(ids, output_hidden_states=True)
            hidden.append(out.hidden_states[-2])
            pooled = out[0]  # the second encoder's projected pooled output
        return torch.cat(hidden, dim=-1), pooled

    def batch_inputs(self, indices: list[int]) -> dict[str, Any]:
        """Latents and conditioning of one micro-batch (caption dropout drawn from the run's RNG)."""
        exs = [self.examples[i] for i in indices]
        latents = torch.stack([e.latents for e in exs]).to(self.device)
        captions = [e.caption for e in exs]
        if self.p.caption_dropout > 0:
            drop = torch.rand(len(captions), generator=self.noise_gen, device=self.device) < self.p.caption_dropout
            captions = ["" if d else c for c, d in zip(captions, drop.tolist())]
        if self.p.train_text_encoder:
            hidden, pooled = self.encode_text(captions)
        else:
            hidden = torch.stack([self.text_cache[c][0] for c in captions]).to(self.device)
            pooled = torch.stack([self.text_cache[c][1] for c in captions]).to(self.device) if self.sdxl else None  # type: ignore[misc]
        out: dict[str, Any] = {"latents": latents, "hidden": hidden}
        if self.sdxl:
            out["added"] = {"text_embeds": pooled, "time_ids": torch.stack([e.time_ids for e in exs]).to(self.device)}
        return out

    def loss_of(self, inputs: dict[str, Any]) -> torch.Tensor:
        """The denoising loss of one micro-batch (noise offset, min-SNR weighting)."""
        from diffusers.training_utils import compute_snr

        latents = inputs["latents"]
        bsz = latents.shape[0]
        noise = torch.randn(latents.shape, generator=self.noise_gen, device=self.device)
        if self.p.noise_offset:
            noise = noise + self.p.noise_offset * torch.randn((bsz, latents.shape[1], 1, 1),
                                                              generator=self.noise_gen, device=self.device)
        timesteps = torch.randint(0, self.noise_scheduler.config.num_train_timesteps, (bsz,),
                                  generator=self.noise_gen, device=self.device).long()
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        v_pred = self.noise_scheduler.config.prediction_type == "v_prediction"
        target = self.noise_scheduler.get_velocity(latents, noise, timesteps) if v_pred else noise
        with self.autocast():
            pred = self.unet(noisy.to(self.weight_dtype), timesteps, inputs["hidden"].to(self.weight_dtype),
                             added_cond_kwargs=inputs.get("added"), return_dict=False)[0]
        per_sample = F.mse_loss(pred.float(), target.float(), reduction="none").mean(dim=(1, 2, 3))
        if self.p.min_snr_gamma:
            snr = compute_snr(self.noise_scheduler, timesteps)
            weights = torch.clamp(snr, max=self.p.min_snr_gamma) / (snr + 1 if v_pred else snr)
            per_sample = per_sample * weights
        return per_sample.mean()

    def train_step(self) -> float:
        """One optimizer step (``gradient_accumulation`` micro-batches); returns the mean loss."""
        total = 0.0
        accum = self.p.gradient_accumulation
        for _ in range(accum):
            _, indices = self.plan.batch(self.micro)
            loss = self.loss_of(self.batch_inputs(indices)) / accum
            if self.scaler is not None:
                self.scaler.scale(loss).backward()
            else:
                loss.backward()
            total += float(loss.detach())
            self.micro += 1
        params = [q for g in self.optimizer.param_groups for q in g["params"]]
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return total

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Train to the last step (resuming from the newest checkpoint), export and record the LoRA."""
        self.resume_if_possible()
        p = self.p
        self.stage = f"training (resumed at step {self.resumed_from})" if self.resumed_from else "training"
        self.report(stage=self.stage, force=True)
        while self.step < self.total:
            self.one_step()
        if self.last_checkpoint_step != self.step:
            self.save_checkpoint()  # a crash during export resumes here, not at an older step
        if self.last_sample_step != self.step and p.sample_prompts:
            self.sample()
        return self.export()

    def one_step(self) -> None:
        """Requests, one optimizer step, its report, and the checkpoint / samples it is due."""
        p = self.p
        self.between_steps()
        started = time.perf_counter()
        loss = self.train_step()
        self._step_times = (self._step_times + [time.perf_counter() - started])[-50:]
        self.record_loss(loss)
        self.report(stage=self.stage)
        if p.save_every and self.step % p.save_every == 0 and self.step < self.total:
            self.save_checkpoint()
        if p.sample_every and self.step % p.sample_every == 0:
            self.sample()

    def between_steps(self) -> None:
        """Honour stop, cancel, save-now and sample-now before the next step."""
        job = self.job
        now = time.monotonic()
        if now - self._last_poll >= POLL_S:  # requests within a step or two, whatever the heartbeat interval
            self._last_poll = now
            job.poll()
        if job.stop_requested:
            ckpt = self.save_checkpoint() if self.last_checkpoint_step != self.step else self.newest_checkpoint_key()
            job.flush()
            raise JobCancelled(f"stopped at step {self.step} of {self.total}; resume continues from this checkpoint",
                               result={"resumable": True, "step": self.step, "total": self.total, "checkpoint": ckpt})
        if job.cancel_requested:
            job.check_cancelled(result={"resumable": self.last_checkpoint_step > 0, "step": self.step,
                                        "total": self.total, "checkpoint_step": self.last_checkpoint_step})
        if job.take_request("save_now") and self.step > 0 and self.last_checkpoint_step != self.step:
            self.save_checkpoint()
        if job.take_request("sample_now"):
            self.sample()

    def record_loss(self, loss: float) -> None:
        self.last_loss = loss
        self.smoothed = loss if self.smoothed is None else SMOOTHING * self.smoothed + (1 - SMOOTHING) * loss
        self.loss_history.append([self.step, round(loss, 6), round(self.smoothed, 6)])
        if len(self.loss_history) > HISTORY_POINTS:
            self.loss_history = self.loss_history[::2]  # thin evenly; the newest point is re-added next step

    def metrics(self) -> dict[str, Any]:
        """What the job page shows: step, loss, lr, speed, ETA, memory, the loss series."""
        it_s = len(self._step_times) / sum(self._step_times) if self._step_times else None
        return {
            "step": self.step, "total": self.total, "epoch": min(self.epochs, 1 + self.micro // max(1, self.plan.batches_per_epoch)),
            "epochs": self.epochs, "loss": self.last_loss, "smoothed_loss": self.smoothed,
            "lr": self.lr_scheduler.get_last_lr()[0], "it_s": it_s,
            "eta_s": (self.total - self.step) / it_s if it_s else None, "memory_mb": round(memory_mb(self.device), 1),
            "device": str(self.device), "last_checkpoint_step": max(self.last_checkpoint_step, 0),
            "last_sample_step": max(self.last_sample_step, 0), "resumed_from": self.resumed_from,
            "loss_history": self.loss_history,
        }

    def report(self, *, stage: str, message: str | None = None, force: bool = False) -> None:
        loss = f", loss {self.smoothed:.4f}" if self.smoothed is not None else ""
        self.job.progress(self.step / self.total, stage=stage, message=message or f"step {self.step}/{self.total}{loss}",
                          metrics=self.metrics(), force=force)

    # -- samples -----------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(self) -> list[dict[str, Any]]:
        """Images for every sample prompt at a fixed seed each, stored under the run's samples/."""
        p, info = self.p, self.run_info
        storage = get_storage()
        made = []
        for idx, raw in enumerate(p.sample_prompts):
            prompt = training.substitute_trigger(raw, info.trigger_word)
            gen = torch.Generator(device=self.device).manual_seed(p.seed + idx)
            with self.autocast():
                image = self.pipe(prompt, num_inference_steps=p.sample_steps, guidance_scale=p.sample_guidance,
                                  height=p.resolution, width=p.resolution, generator=gen).images[0]
            buf = io.BytesIO()
            image.save(buf, format="PNG")
            key = training.run_key(info.tenant_id, info.job_id, training.sample_file(self.step, idx))
            storage.put_bytes(key, buf.getvalue(), content_type="image/png")
            made.append({"step": self.step, "index": idx, "prompt": prompt, "key": key})
        self.last_sample_step = self.step
        if made:
            self.job.log(f"samples at step {self.step}")
        return made

    # -- checkpoints -------------------------------------------------------------------------------
    def lora_tensors(self) -> dict[str, torch.Tensor]:
        """The LoRA as it stands, in kohya's layout."""
        from peft.utils import get_peft_model_state_dict

        texts = [get_peft_model_state_dict(te) for te in self.text_encoders] if self.p.train_text_encoder else []
        save_dtype = torch.float32 if self.precision == "no" else torch.float16
        return kohya.to_kohya(unet_state=get_peft_model_state_dict(self.unet), text_states=texts,
                              architecture=self.run_info.architecture, alpha=self.p.alpha,
                              layers_per_block=int(self.unet.config.layers_per_block), dtype=save_dtype)

    def lora_metadata(self) -> dict[str, str]:
        info = self.run_info
        return kohya.metadata(architecture=info.architecture, params=self.p.model_dump(mode="json"),
                              base_model=info.base_model, trigger_word=info.trigger_word,
                              dataset_hash=self.dataset_hash, steps=self.total, epochs=self.epochs, name=info.name,
                              train_text_encoder=self.p.train_text_encoder)

    def _trainable_params(self) -> dict[str, torch.nn.Parameter]:
        """The LoRA parameters by checkpoint name (``unet.…``, ``te0.…``, ``te1.…``)."""
        mods = {"unet": self.unet, **{f"te{i}": te for i, te in enumerate(self.text_encoders)}}
        return {f"{prefix}.{n}": q for prefix, m in mods.items() for n, q in m.named_parameters() if q.requires_grad}

    def _trainable(self) -> dict[str, torch.Tensor]:
        return {name: q.detach().cpu() for name, q in self._trainable_params().items()}

    def save_checkpoint(self) -> str:
        """LoRA file + training state (weights, optimizer, LR schedule, step, RNG); state written last."""
        info, storage = self.run_info, get_storage()
        folder = training.checkpoint_dir(self.step)
        lora_key = training.run_key(info.tenant_id, info.job_id, f"{folder}/lora.safetensors")
        state_key = training.run_key(info.tenant_id, info.job_id, f"{folder}/state.pt")
        state = {
            "step": self.step, "micro": self.micro, "total": self.total, "trainable": self._trainable(),
            "optimizer": self.optimizer.state_dict(), "lr_scheduler": self.lr_scheduler.state_dict(),
            "noise_rng": self.noise_gen.get_state().cpu(), "torch_rng": torch.get_rng_state(),
            "loss_history": self.loss_history, "smoothed": self.smoothed, "last_loss": self.last_loss,
            "dataset_hash": self.dataset_hash, "rank": self.p.rank,
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
        }
        with tempfile.TemporaryDirectory(prefix="studio-ckpt-") as tmp:
            lora_path = kohya.save(Path(tmp) / "lora.safetensors", self.lora_tensors(), self.lora_metadata())
            storage.put_file(lora_key, lora_path, content_type="application/octet-stream")
            state_path = Path(tmp) / "state.pt"
            torch.save(state, state_path)
            storage.put_file(state_key, state_path, content_type="application/octet-stream")
        self.last_checkpoint_step = self.step
        self.prune_checkpoints()
        self.job.log(f"checkpoint at step {self.step}")
        self.report(stage=self.stage, force=True)
        return lora_key

    def prune_checkpoints(self) -> None:
        ckpts = training.list_checkpoints(self.run_info.tenant_id, self.run_info.job_id)
        storage = get_storage()
        for old in ckpts[: max(0, len(ckpts) - self.p.keep_checkpoints)]:
            storage.delete_prefix(old["state_key"].rsplit("/", 1)[0] + "/")

    def newest_checkpoint_key(self) -> str | None:
        ckpts = training.list_checkpoints(self.run_info.tenant_id, self.run_info.job_id)
        return ckpts[-1]["lora_key"] if ckpts else None

    def resume_if_possible(self) -> None:
        """Continue from the newest complete checkpoint of this run, if there is one."""
        ckpts = training.list_checkpoints(self.run_info.tenant_id, self.run_info.job_id)
        if not ckpts:
            return
        newest = ckpts[-1]
        with tempfile.TemporaryDirectory(prefix="studio-ckpt-") as tmp:
            path = get_storage().download(newest["state_key"], Path(tmp) / "state.pt")
            state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("rank") != self.p.rank:
            raise PermanentError(f"the checkpoint at step {newest['step']} has rank {state.get('rank')}, the run {self.p.rank}")
        by_name = self._trainable_params()
        missing = set(by_name) ^ set(state["trainable"])
        if missing:
            raise PermanentError(f"the checkpoint at step {newest['step']} does not match this run's adapters")
        with torch.no_grad():
            for name, tensor in state["trainable"].items():
                by_name[name].copy_(tensor.to(by_name[name].device, by_name[name].dtype))
        self.optimizer.load_state_dict(state["optimizer"])
        self.lr_scheduler.load_state_dict(state["lr_scheduler"])
        self.noise_gen.set_state(state["noise_rng"].to(self.noise_gen.get_state().device))
        torch.set_rng_state(state["torch_rng"])
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.micro = int(state["step"]), int(state["micro"])
        self.loss_history = [list(x) for x in state["loss_history"]]
        self.smoothed, self.last_loss = state["smoothed"], state["last_loss"]
        self.last_checkpoint_step = self.step
        self.resumed_from = self.step
        if state.get("dataset_hash") and state["dataset_hash"] != self.dataset_hash:
            self.job.log("the dataset changed since the checkpoint; training continues on the current images",
                         level="warning")
        self.job.log(f"resumed from the checkpoint at step {self.step} of {self.total}")

    # -- the result --------------------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """Write the final kohya LoRA and record it as a LoRA model; the job's result."""
        from backend.db import new_id

        info, storage = self.run_info, get_storage()
        existing = training.lora_for_job(self.job.ctx, info.job_id)
        lora_id = existing.id if existing else new_id()
        key = training.lora_file_key(info.tenant_id, lora_id, info.name)
        self.job.progress(1.0, stage="saving LoRA", metrics=self.metrics(), force=True)
        with tempfile.TemporaryDirectory(prefix="studio-lora-") as tmp:
            path = kohya.save(Path(tmp) / "lora.safetensors", self.lora_tensors(), self.lora_metadata())
            size = os.path.getsize(path)
            storage.put_file(key, path, content_type="application/octet-stream")
        sample_list = [s for s in training.samples(self.job.ctx, info.job_id) if s["step"] == self.last_sample_step]
        lora = training.record_lora(
            self.job.ctx, job_id=info.job_id, lora_id=lora_id, file_key=key, size_bytes=size, name=info.name,
            trigger_word=info.trigger_word, base_model=info.base_model, architecture=info.architecture,
            dataset_id=info.dataset_id, dataset_hash=self.dataset_hash, params=self.p, steps=self.step,
            final_loss=self.smoothed, sample_list=sample_list,
        )
        return {"lora_id": lora.id, "name": lora.name, "steps": self.step, "final_loss": self.smoothed,
                "file_key": key, "resumed_from": self.resumed_from}


def build_optimizer(p: TrainingParams, groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """AdamW, or AdamW8bit / Prodigy when their packages are installed."""
    if p.optimizer == "adamw8bit":
        import bitsandbytes as bnb  # type: ignore[import-not-found]

        return bnb.optim.AdamW8bit(groups, weight_decay=p.weight_decay)
    if p.optimizer == "prodigy":
        from prodigyopt import Prodigy  # type: ignore[import-not-found]

        return Prodigy(groups, weight_decay=p.weight_decay)
    return torch.optim.AdamW(groups, weight_decay=p.weight_decay, foreach=True)
