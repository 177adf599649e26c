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
