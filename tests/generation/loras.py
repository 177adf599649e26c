"""A LoRA file in the kohya format with random weights, for the tiny demo models."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file


def write_kohya_lora(pipe, dest: Path, *, rank: int = 4, seed: int = 0, scale: float = 0.5) -> Path:  # type: ignore[no-untyped-def]
    """Random LoRA weights for every attention projection of ``pipe``'s UNet, kohya key names."""
    g = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    for name, module in pipe.unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.split(".")[-1] in ("to_q", "to_k", "to_v") or name.endswith("to_out.0"):
            if not isinstance(module, torch.nn.Linear):
                continue
            key = "lora_unet_" + name.replace(".", "_")
            tensors[f"{key}.lora_down.weight"] = torch.randn(rank, module.in_features, generator=g) * scale
            tensors[f"{key}.lora_up.weight"] = torch.randn(module.out_features, rank, generator=g) * scale
            tensors[f"{key}.alpha"] = torch.tensor(float(rank))
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(dest), metadata={"ss_network_module": "networks.lora", "ss_network_dim": str(rank)})
    return dest


def record_random_lora(ctx, *, name: str, trigger_word: str, base_model: str = "demo-sd15", seed: int = 0):  # type: ignore[no-untyped-def]
    """A random-weight kohya LoRA of the demo model, stored and recorded through training's service."""
    import tempfile

    from backend.db import new_id
    from backend.storage import get_storage
    from backend.training import service as training
    from backend.training.models import TrainingParams
    from workers.pipelines.images import BuiltinBackend

    pipe = BuiltinBackend(device="cpu").pipeline(base_model)
    lora_id = new_id()
    key = training.lora_file_key(ctx.tenant_id, lora_id, name)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_kohya_lora(pipe, Path(tmp) / "lora.safetensors", seed=seed)
        get_storage().put_file(key, path)
        size = path.stat().st_size
    arch = "sdxl" if "sdxl" in base_model else "sd15"
    return training.record_lora(ctx, job_id=new_id(), lora_id=lora_id, file_key=key, size_bytes=size, name=name,
                                trigger_word=trigger_word, base_model=base_model, architecture=arch, dataset_id="",
                                dataset_hash="", params=TrainingParams(rank=4, alpha=4, resolution=64), steps=1,
                                final_loss=None, sample_list=[])
