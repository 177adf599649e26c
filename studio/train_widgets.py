"""Training widgets: the wizard's four steps, and the live view of a training run.

    ds = dataset_step(ctx)                    # (1) pick a dataset (stats, warnings) or create + upload one here
    model, preset = model_step()              # (2) base model (demo label) and preset
    params = params_step(ctx, model, preset, ds)   # (3) every parameter, total steps computed live
    review_step(ctx, ds, model, preset, params)  # (4) estimate, then submit
    run_view(ctx, job_id)                     # progress, loss chart, samples, checkpoints, controls
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from backend.basemodels.service import BaseModel, display_name, list_models
from backend.context import Ctx
from backend.datasets import service as datasets
from backend.datasets.models import DatasetOut
from backend.errors import DomainError, InvalidInput
from backend.jobs.models import JobOut
from backend.training import service as training
from backend.training.models import TrainingParams
from backend.training.presets import PRESETS, default_preset
from studio.dataset_widgets import new_dataset_form, stats_panel, upload_panel
from studio.dataset_widgets import SELECTED as DATASET_SELECTED
from studio.feedback import attempt, show_error

RUN = "train_job"
TAB = "train_tab"
_NEXT_TAB = "train_tab_next"
SAMPLE_PX = 256  # samples are shown at most this wide (the demo's are 64 px)
SCHEDULERS = ["constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"]


# -- (1) dataset ------------------------------------------------------------------------------------
def dataset_step(ctx: Ctx) -> DatasetOut | None:
    """Pick a dataset (with its statistics and warnings) or create one and upload photos right here."""
    st.subheader("1 · Dataset")
    rows, _ = datasets.list_datasets(ctx, limit=200)
    new_dataset_form(ctx)
    if not rows:
        st.info("No dataset yet: create one above, then upload photos.")
        return None
    ids = [d.id for d in rows]
    names = {d.id: f"{d.name} ({d.image_count} images, trigger {d.trigger_word or '–'})" for d in rows}
    current = st.session_state.get(DATASET_SELECTED)
    chosen = st.selectbox("Dataset", ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda i: names[i], key="train_dataset")
    st.session_state[DATASET_SELECTED] = chosen
    ds = datasets.get_dataset(ctx, chosen)
    with st.expander(f"Upload photos to {ds.name}", expanded=ds.image_count == 0):
        upload_panel(ctx, ds)
    with st.expander("Statistics and warnings", expanded=True):
        stats_panel(ctx, ds)
    return ds


# -- (2) base model and preset ----------------------------------------------------------------------
def model_step() -> tuple[BaseModel, str]:
    """The base model (demos labelled) and a preset suited to it."""
    st.subheader("2 · Base model and preset")
    models = list_models()
    by_name = {m.name: m for m in models}
    name = st.selectbox("Base model", list(by_name), format_func=lambda n: display_name(by_name[n]), key="train_model")
    model = by_name[name]
    if model.is_demo:
        st.caption(f"**{model.label}** — for trying the studio out; set STUDIO_MODELS_DIR for real SD 1.5 / SDXL weights.")
    else:
        st.caption(f"{model.architecture.upper()} · {model.kind} · `{model.path}`")
    presets = list(PRESETS)
    preset = st.selectbox("Preset", presets, index=presets.index(default_preset(model)),
                          format_func=lambda p: PRESETS[p].label, key=f"train_preset_{name}")
    return model, preset


# -- (3) parameters ---------------------------------------------------------------------------------
def params_step(ctx: Ctx, model: BaseModel, preset: str, ds: DatasetOut | None) -> dict[str, Any]:
    """Every training parameter, initialised from the preset; total steps computed as they change."""
    st.subheader("3 · Parameters")
    d = TrainingParams(**PRESETS[preset].values)
    k = f"tp_{preset}_"  # a new preset starts from its own values
    out: dict[str, Any] = {}
    c1, c2, c3 = st.columns(3)
    out["rank"] = c1.number_input("Rank", 1, 256, d.rank, key=k + "rank")
    out["alpha"] = c2.number_input("Alpha", 0.1, 1024.0, float(d.alpha), key=k + "alpha")
    out["resolution"] = c3.number_input("Resolution (buckets keep aspect ratios)", 64, 2048, d.resolution, step=64, key=k + "resolution")
    c1, c2, c3 = st.columns(3)
    out["learning_rate"] = c1.number_input("UNet learning rate", 0.0, 1.0, d.learning_rate, format="%.6f", key=k + "lr")
    out["train_text_encoder"] = c2.checkbox("Train text encoder", d.train_text_encoder, key=k + "te")
    out["text_encoder_lr"] = c3.number_input("Text-encoder learning rate", 0.0, 1.0, d.text_encoder_lr, format="%.6f", key=k + "te_lr")
    c1, c2, c3 = st.columns(3)
    out["lr_scheduler"] = c1.selectbox("Scheduler", SCHEDULERS, SCHEDULERS.index(d.lr_scheduler), key=k + "sched")
    out["lr_warmup_steps"] = c2.number_input("Warmup steps", 0, 100_000, d.lr_warmup_steps, key=k + "warmup")
    opts = training.available_optimizers()
    out["optimizer"] = c3.selectbox("Optimizer", opts, opts.index(d.optimizer) if d.optimizer in opts else 0, key=k + "opt",
                                    help="AdamW8bit and Prodigy appear when bitsandbytes / prodigyopt are installed")
    c1, c2, c3, c4 = st.columns(4)
    by_steps = c1.toggle("Limit by max steps", d.max_steps is not None, key=k + "by_steps")
    if by_steps:
        out["max_steps"] = c2.number_input("Max steps", 1, 1_000_000, d.max_steps or 1000, key=k + "max_steps")
        out["epochs"] = d.epochs
    else:
        out["epochs"] = c2.number_input("Epochs", 1, 10_000, d.epochs, key=k + "epochs")
        out["max_steps"] = None
    out["batch_size"] = c3.number_input("Batch size", 1, 64, d.batch_size, key=k + "batch")
    out["gradient_accumulation"] = c4.number_input("Gradient accumulation", 1, 128, d.gradient_accumulation, key=k + "accum")
    c1, c2, c3 = st.columns(3)
    out["mixed_precision"] = c1.selectbox("Mixed precision", ["no", "fp16", "bf16"], ["no", "fp16", "bf16"].index(d.mixed_precision), key=k + "mp")
    out["gradient_checkpointing"] = c2.checkbox("Gradient checkpointing", d.gradient_checkpointing, key=k + "gc")
    out["seed"] = c3.number_input("Seed", 0, 2**31 - 1, d.seed, key=k + "seed")
    c1, c2, c3 = st.columns(3)
    out["noise_offset"] = c1.number_input("Noise offset", 0.0, 1.0, d.noise_offset, format="%.4f", key=k + "noise")
    snr = c2.number_input("Min-SNR gamma (0 = off)", 0.0, 100.0, d.min_snr_gamma or 0.0, key=k + "snr")
    out["min_snr_gamma"] = snr or None
    out["caption_dropout"] = c3.number_input("Caption dropout", 0.0, 1.0, d.caption_dropout, key=k + "cdrop")
    c1, c2, c3 = st.columns(3)
    out["save_every"] = c1.number_input("Save a checkpoint every N steps (0 = end only)", 0, 1_000_000, d.save_every, key=k + "save")
    out["sample_every"] = c2.number_input("Sample every N steps (0 = end only)", 0, 1_000_000, d.sample_every, key=k + "sample")
    out["sample_steps"] = c3.number_input("Sampling steps", 1, 150, d.sample_steps, key=k + "sample_steps")
    prompts = st.text_area("Sample prompts, one per line (`[trigger]` becomes the trigger word)",
                           "\n".join(d.sample_prompts), key=k + "prompts")
    out["sample_prompts"] = [p for p in prompts.splitlines() if p.strip()]
    out = {key: (int(v) if isinstance(v, float) and key not in _FLOATS and v is not None else v) for key, v in out.items()}
    if ds is not None:
        repeats = datasets.stats(ctx, ds.id, resolution=int(out["resolution"])).total_repeats
        try:
            p = TrainingParams(**out)
            st.info(f"**{training.total_steps(repeats, p)} steps** = {ds.image_count} images × repeats ({repeats} per epoch)"
                    f" × {p.epochs if not p.max_steps else '…'} epochs ÷ batch {p.batch_size} ÷ accumulation {p.gradient_accumulation}"
                    + (" (capped by max steps)" if p.max_steps else ""))
        except ValueError:
            pass  # the review step shows the reasons
    return out


_FLOATS = {"alpha", "learning_rate", "text_encoder_lr", "noise_offset", "min_snr_gamma", "caption_dropout"}


# -- (4) review and submit --------------------------------------------------------------------------
def review_step(ctx: Ctx, ds: DatasetOut | None, model: BaseModel, preset: str, params: dict[str, Any]) -> JobOut | None:
    """Estimated duration and memory, refusals with reasons, and the Start button."""
    st.subheader("4 · Review")
    if ds is None:
        st.warning("Choose or create a dataset first.")
        return None
    c1, c2 = st.columns(2)
    name = c1.text_input("LoRA name", f"{ds.name} LoRA", key="train_name")
    trigger = c2.text_input("Trigger word", ds.trigger_word, key="train_trigger")
    request = {"dataset_id": ds.id, "base_model": model.name, "preset": preset, "params": params, "name": name,
               "trigger_word": trigger}
    try:
        _, _, est = training.validate(ctx, request)
    except InvalidInput as err:
        st.error("This run would be refused:\n" + "\n".join(f"- {r}" for r in err.reasons))
        est = None
    except DomainError as err:
        show_error(err)
        est = None
    if est is not None:
        c1, c2, c3 = st.columns(3)
        c1.metric("Total steps", est.total_steps)
        c2.metric("Estimated duration", str(timedelta(seconds=int(est.seconds))))
        c3.metric("Estimated memory", f"{est.memory_gb:.1f} GB")
        st.caption(f"Estimates assume {est.device}.")
    if st.button("Start training", type="primary", disabled=not ctx.can_edit, key="train_submit"):
        job = attempt(lambda: training.submit(ctx, dataset_id=ds.id, base_model=model.name, preset=preset, params=params,
                                              name=name, trigger_word=trigger))
        if job is not None:
            st.session_state[RUN] = job.id
            st.session_state[_NEXT_TAB] = "Runs"  # show the run that was just started
            st.rerun()
        return job
    return None


# -- the run ----------------------------------------------------------------------------------------
def open_pending_tab() -> None:
    """Switch the page's tabs to the one asked for by the previous run (before the tabs are drawn)."""
    nxt = st.session_state.pop(_NEXT_TAB, None)
    if nxt:
        st.session_state[TAB] = nxt


def _fmt_eta(seconds: Any) -> str:
    return str(timedelta(seconds=int(seconds))) if isinstance(seconds, (int, float)) and seconds >= 0 else "–"


def run_controls(ctx: Ctx, job: JobOut) -> None:
    """Stop / cancel / save now / sample now while running; resume once stopped or failed."""
    can = ctx.can_edit
    cols = st.columns(5)
    if job.status == "running":
        if cols[0].button("Stop (keep checkpoint)", key=f"stop_{job.id}", disabled=not can or job.stop_requested):
            attempt(lambda: training.stop(ctx, job.id), success="Stopping after this step…")
        if cols[1].button("Cancel", key=f"cancel_{job.id}", disabled=not can):
            attempt(lambda: training.cancel(ctx, job.id), success="Cancelling…")
        if cols[2].button("Save now", key=f"save_{job.id}", disabled=not can):
            attempt(lambda: training.save_now(ctx, job.id), success="A checkpoint will be saved at the next step.")
        if cols[3].button("Sample now", key=f"samplenow_{job.id}", disabled=not can):
            attempt(lambda: training.sample_now(ctx, job.id), success="Samples will be made at the next step.")
    elif job.status == "queued":
        if cols[0].button("Cancel", key=f"cancel_{job.id}", disabled=not can):
            attempt(lambda: training.cancel(ctx, job.id), success="Cancelled.")
    elif job.status in ("cancelled", "failed"):
        if cols[0].button("Resume", type="primary", key=f"resume_{job.id}", disabled=not can):
            attempt(lambda: training.resume(ctx, job.id), success="Resuming from the newest checkpoint…")


def run_status(job: JobOut) -> None:
    """Progress bar, speed, ETA, loss and memory, and the loss chart (raw and smoothed)."""
    m = job.metrics or {}
    step, total = m.get("step", 0), m.get("total")
    label = f"{(job.status if job.finished else job.stage) or job.status} — step {step}/{total or '?'} — {job.progress * 100:.0f}%"
    st.progress(min(max(job.progress, 0.0), 1.0), text=label)
    st.markdown(f"**{job.status}** · attempt {job.attempts}/{job.max_attempts}" + (f" · {job.message}" if job.message else ""))
    if job.error:
        st.error(job.error)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("it/s", f"{m['it_s']:.2f}" if m.get("it_s") else "–")
    c2.metric("ETA", _fmt_eta(m.get("eta_s")))
    c3.metric("Loss (smoothed)", f"{m['smoothed_loss']:.4f}" if m.get("smoothed_loss") is not None else "–")
    c4.metric("Memory", f"{m['memory_mb'] / 1024:.2f} GB" if m.get("memory_mb") else "–")
    history = m.get("loss_history") or []
    if history:
        st.line_chart({"step": [h[0] for h in history], "loss": [h[1] for h in history],
                       "smoothed": [h[2] for h in history]}, x="step", y=["loss", "smoothed"])


def _sample_png(ctx: Ctx, job_id: str, key: str) -> bytes:
    """A sample image, read from storage once per browser session.

    The run panel refreshes every second; a sample's file never changes once written (each has
    its own step in the key), so re-downloading it on every refresh would only cost I/O.
    """
    cache: dict[tuple[str, str], bytes] = st.session_state.setdefault("_train_sample_png", {})
    if (job_id, key) not in cache:
        cache[(job_id, key)] = training.artifact_bytes(ctx, job_id, key)
    return cache[(job_id, key)]


def run_media(ctx: Ctx, job: JobOut) -> None:
    """Samples by step, checkpoints with download, and the finished LoRA."""
    shots = training.samples(ctx, job.id)
    if shots:
        st.markdown("**Samples**")
        steps = sorted({s["step"] for s in shots}, reverse=True)
        for step in steps[:6]:
            row = [s for s in shots if s["step"] == step]
            st.caption(f"step {step}")
            cols = st.columns(max(1, len(row)))
            for col, s in zip(cols, row):
                col.image(_sample_png(ctx, job.id, s["key"]), caption=s["prompt"], width=SAMPLE_PX)
    ckpts = training.checkpoints(ctx, job.id)
    if ckpts:
        st.markdown("**Checkpoints**")
        for c in reversed(ckpts):
            st.download_button(f"Download LoRA at step {c['step']}", data=lambda c=c: training.artifact_bytes(ctx, job.id, c["lora_key"]),
                               file_name=f"step-{c['step']:06d}.safetensors", key=f"ckpt_{job.id}_{c['step']}")
    lora = training.lora_for_job(ctx, job.id)
    if lora is not None:
        st.success(f"LoRA **{lora.name}** ready — trigger `{lora.trigger_word}`, final loss "
                   f"{lora.final_loss:.4f}" if lora.final_loss is not None else f"LoRA **{lora.name}** ready")
        st.download_button("Download the LoRA (.safetensors)", data=lambda: training.lora_bytes(ctx, lora.id),
                           file_name=training.lora_filename(lora), type="primary", key=f"lora_{lora.id}")


def run_view(ctx: Ctx, job_id: str, *, every_s: float = 1.0) -> None:
    """The training run, refreshed in place (st.fragment) while it is queued or running."""
    first = attempt(lambda: training.get_run(ctx, job_id))
    if first is None:
        return
    seen_key = f"_train_seen_{job_id}"

    @st.fragment(run_every=None if first.finished else every_s)
    def _panel() -> None:
        job = training.get_run(ctx, job_id)
        run_status(job)
        run_controls(ctx, job)
        run_media(ctx, job)
        before = st.session_state.get(seen_key)
        st.session_state[seen_key] = job.status
        if job.finished and before is not None and before != job.status:
            st.rerun()  # the whole page: stop polling, refresh the run picker and the controls

    _panel()


def runs_picker(ctx: Ctx) -> str | None:
    """Recent training runs of the workspace; returns the chosen job id."""
    runs = training.list_runs(ctx, limit=30)
    if not runs:
        return None
    ids = [r.id for r in runs]
    current = st.session_state.get(RUN)
    # No status in the label: a selectbox keeps its option labels while a run finishes in the fragment below.
    labels = {r.id: f"{r.payload.get('name', 'LoRA')} · {r.payload.get('base_model')} · "
                    f"{r.created_at:%Y-%m-%d %H:%M} · {r.id[:8]}" for r in runs}
    chosen = st.selectbox("Training run", ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda i: labels[i], key="train_run_pick")
    st.session_state[RUN] = chosen
    return chosen
