"""A training job through a real worker process produces a kohya LoRA that diffusers loads exactly."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from backend.jobs import service as jobs
from backend.storage import get_storage
from backend.training import service as training
from tests.training.conftest import quick

pytestmark = pytest.mark.slow
FAST = {"heartbeat_interval_s": "0.3", "stale_after_s": "3", "reconcile_every_s": "0.5", "resend_after_s": "2"}


def _image(pipe) -> torch.Tensor:  # type: ignore[no-untyped-def]
    out = pipe("a photo of ohwx woman", num_inference_steps=3, generator=torch.Generator().manual_seed(7), output_type="np")
    return torch.from_numpy(out.images[0])


def test_worker_trains_kohya_lora_that_diffusers_loads(ctx, demo_models, redis_url, studio_env, start_worker, make_dataset, tmp_path):
    studio_env(broker_url=redis_url)
    start_worker(**FAST)
    ds = make_dataset(ctx, n=3)
    # alpha != rank: the file must carry the real alpha, and loaders must scale by alpha / rank.
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sd15", preset="demo-quick",
                          params=quick(max_steps=4, rank=4, alpha=2, sample_every=2), name="Anna v1")
    done = jobs.wait(ctx, job.id, timeout_s=120)
    assert done.status == "succeeded", done.error
    assert done.result["steps"] == 4 and done.metrics["step"] == 4 and done.metrics["total"] == 4
    assert {"loss", "smoothed_loss", "lr", "it_s", "eta_s", "memory_mb"} <= set(done.metrics)
    assert len(done.metrics["loss_history"]) == 4

    lora = training.get_lora(ctx, done.result["lora_id"])
    assert (lora.name, lora.trigger_word, lora.base_model, lora.rank, lora.alpha) == ("Anna v1", "ohwx", "demo-sd15", 4, 2)
    assert lora.final_loss is not None and lora.samples and all(s["step"] == 4 for s in lora.samples)
    assert [s["step"] for s in training.samples(ctx, job.id)] == [2, 4]
    path = training.download_lora(ctx, lora.id, tmp_path / "anna.safetensors")

    with safe_open(str(path), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
        alphas = {k: f.get_tensor(k) for k in keys if k.endswith(".alpha")}
        first = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
        down, up = f.get_tensor(first + ".lora_down.weight"), f.get_tensor(first + ".lora_up.weight")
    assert keys and all(k.startswith("lora_unet_") for k in keys)
    assert all(k.endswith((".lora_down.weight", ".lora_up.weight", ".alpha")) for k in keys)
    assert len(alphas) * 3 == len(keys) and all(float(a) == 2.0 for a in alphas.values())
    assert down.shape[0] == 4 and up.shape[1] == 4
    assert meta["ss_network_dim"] == "4" and meta["ss_network_alpha"] == "2"
    assert meta["ss_base_model_version"] == "sd_v1" and meta["ss_resolution"] == "(64, 64)"
    assert meta["ss_max_train_steps"] == "4" and meta["ss_num_epochs"] == "1"
    assert meta["ss_trigger_word"] == "ohwx" and meta["ss_dataset_hash"] == lora.dataset_hash and len(lora.dataset_hash) == 64

    from workers.pipelines.diffusion import load_pipeline

    pipe = load_pipeline("demo-sd15")
    base = _image(pipe)
    attn = pipe.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q
    w0 = attn.weight.detach().clone()
    pipe.load_lora_weights(str(path))
    with_lora = _image(pipe)
    assert (with_lora - base).abs().max() > 1e-4, "the LoRA did not change the image"
    pipe.unload_lora_weights()
    assert torch.equal(_image(pipe), base), "unloading did not restore the base model"
    # Fusing applies W + alpha/rank * up @ down: proves the alpha is read as the real alpha.
    pipe.load_lora_weights(str(path))
    pipe.fuse_lora()
    fused = pipe.unet.down_blocks[0].attentions[0].transformer_blocks[0].attn1.to_q.weight
    assert torch.allclose(fused, w0 + (2 / 4) * up @ down, atol=1e-6)
    # The run's storage holds the final checkpoint; the LoRA file is under the LoRA's own id.
    assert training.checkpoints(ctx, job.id)[-1]["step"] == 4
    assert get_storage().exists(lora.file_key)
