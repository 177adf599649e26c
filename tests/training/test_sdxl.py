"""The SDXL tiny architecture trains, with both text encoders, into kohya's SDXL layout."""

from __future__ import annotations

import pytest
import torch
from safetensors import safe_open

from backend.jobs import service as jobs
from backend.training import service as training
from tests.training.conftest import quick

pytestmark = pytest.mark.slow


def test_sdxl_trains_with_text_encoders(ctx, demo_models, embedded_workers, make_dataset, tmp_path):
    ds = make_dataset(ctx, n=2)
    job = training.submit(ctx, dataset_id=ds.id, base_model="demo-sdxl",
                          params=quick(max_steps=3, rank=4, alpha=8, train_text_encoder=True, text_encoder_lr=1e-3))
    assert job.payload["architecture"] == "sdxl" and job.queue == "gpu"
    done = jobs.wait(ctx, job.id, timeout_s=120)
    assert done.status == "succeeded", done.error
    path = training.download_lora(ctx, done.result["lora_id"], tmp_path)
    with safe_open(str(path), "pt") as f:
        keys, meta = list(f.keys()), f.metadata()
        te2 = "lora_te2_text_model_encoder_layers_0_self_attn_q_proj"
        down, up, alpha = (f.get_tensor(te2 + s) for s in (".lora_down.weight", ".lora_up.weight", ".alpha"))
    prefixes = {k.split("_")[0] + "_" + k.split("_")[1] for k in keys}
    assert prefixes == {"lora_unet", "lora_te1", "lora_te2"}
    # SDXL UNet modules carry the original SGM names, as kohya's sd-scripts write them.
    assert any(k.startswith("lora_unet_input_blocks_") for k in keys)
    assert any(k.startswith("lora_unet_output_blocks_") for k in keys)
    assert not any(k.startswith(("lora_unet_down_blocks", "lora_unet_up_blocks")) for k in keys)
    assert meta["ss_base_model_version"] == "sdxl_base_v1-0" and float(alpha) == 8.0

    from workers.pipelines.diffusion import load_pipeline

    pipe = load_pipeline("demo-sdxl")
    q_proj = next(m for n, m in pipe.text_encoder_2.named_modules() if n.endswith("layers.0.self_attn.q_proj"))
    w0 = q_proj.weight.detach().clone()
    base = pipe("ohwx", num_inference_steps=2, generator=torch.Generator().manual_seed(1), output_type="np").images[0]
    pipe.load_lora_weights(str(path))
    lora = pipe("ohwx", num_inference_steps=2, generator=torch.Generator().manual_seed(1), output_type="np").images[0]
    assert abs(lora - base).max() > 1e-4
    pipe.fuse_lora()
    fused = next(m for n, m in pipe.text_encoder_2.named_modules() if n.endswith("layers.0.self_attn.q_proj")).weight
    assert torch.allclose(fused, w0 + (8 / 4) * up @ down, atol=1e-6)
