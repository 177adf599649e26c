"""Turning PEFT LoRA weights into the kohya .safetensors layout that ComfyUI, A1111 and diffusers load.

Keys: ``lora_unet_<module>`` and ``lora_te_<module>`` (SDXL: ``lora_te1_`` / ``lora_te2_``), each
with ``.lora_down.weight`` (PEFT's A), ``.lora_up.weight`` (B) and ``.alpha`` (the real alpha).
SD 1.5 UNet modules keep diffusers' names (as kohya's sd-scripts write them); SDXL UNet modules
use the original SGM names (``input_blocks_4_1_...``), as sd-scripts' SDXL LoRAs do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

BASE_MODEL_VERSION = {"sd15": "sd_v1", "sdxl": "sdxl_base_v1-0"}
MODELSPEC_ARCH = {"sd15": "stable-diffusion-v1/lora", "sdxl": "stable-diffusion-xl-v1-base/lora"}


def sgm_module_name(diffusers_name: str, layers_per_block: int) -> str:
    """The SGM (original SDXL) path of a diffusers UNet module path."""
    parts = diffusers_name.split(".")
    per = layers_per_block + 1
    if parts[0] == "down_blocks" and parts[2] in ("attentions", "resnets"):
        i, j = int(parts[1]), int(parts[3])
        return ".".join(["input_blocks", str(1 + i * per + j), "1" if parts[2] == "attentions" else "0", *parts[4:]])
    if parts[0] == "up_blocks" and parts[2] in ("attentions", "resnets"):
        i, j = int(parts[1]), int(parts[3])
        return ".".join(["output_blocks", str(i * per + j), "1" if parts[2] == "attentions" else "0", *parts[4:]])
    if parts[0] == "mid_block" and parts[1] in ("attentions", "resnets"):
        j = int(parts[2])
        idx = 1 if parts[1] == "attentions" else 2 * j
        return ".".join(["middle_block", str(idx), *parts[3:]])
    return diffusers_name


def _modules(peft_state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """PEFT keys ``<module>.lora_A.weight`` grouped by module."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in peft_state.items():
        for part, name in ((".lora_A.weight", "down"), (".lora_B.weight", "up")):
            if key.endswith(part):
                out.setdefault(key[: -len(part)], {})[name] = tensor
    return out


def to_kohya(
    *,
    unet_state: dict[str, torch.Tensor],
    text_states: list[dict[str, torch.Tensor]],
    architecture: str,
    alpha: float,
    layers_per_block: int,
    dtype: torch.dtype = torch.float32,
) -> dict[str, torch.Tensor]:
    """A kohya state dict from PEFT state dicts of the UNet and the text encoder(s)."""
    out: dict[str, torch.Tensor] = {}
    alpha_t = torch.tensor(float(alpha), dtype=torch.float32)

    def put(prefix: str, module: str, w: dict[str, torch.Tensor]) -> None:
        name = f"{prefix}_{module.replace('.', '_')}"
        out[f"{name}.lora_down.weight"] = w["down"].detach().to("cpu", dtype).contiguous()
        out[f"{name}.lora_up.weight"] = w["up"].detach().to("cpu", dtype).contiguous()
        out[f"{name}.alpha"] = alpha_t.clone()

    for module, w in _modules(unet_state).items():
        path = sgm_module_name(module, layers_per_block) if architecture == "sdxl" else module
        put("lora_unet", path, w)
    te_prefixes = ["lora_te"] if architecture == "sd15" else ["lora_te1", "lora_te2"]
    for prefix, state in zip(te_prefixes, text_states):
        for module, w in _modules(state).items():
            # transformers 5 flattened CLIPTextModel; kohya's names keep CLIP's ``text_model.`` root.
            put(prefix, module if module.startswith("text_model.") else f"text_model.{module}", w)
    return out


def metadata(
    *,
    architecture: str,
    params: dict[str, Any],
    base_model: str,
    trigger_word: str,
    dataset_hash: str,
    steps: int,
    epochs: int,
    name: str,
    train_text_encoder: bool,
) -> dict[str, str]:
    """kohya's ``ss_*`` metadata (and the SAI model-spec title/trigger), all strings."""
    res = int(params["resolution"])
    return {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(int(params["rank"])),
        "ss_network_alpha": _num(params["alpha"]),
        "ss_base_model_version": BASE_MODEL_VERSION[architecture],
        "ss_sd_model_name": base_model,
        "ss_v2": "False",
        "ss_resolution": f"({res}, {res})",
        "ss_max_train_steps": str(steps),
        "ss_steps": str(steps),
        "ss_num_epochs": str(epochs),
        "ss_learning_rate": _num(params["learning_rate"]),
        "ss_unet_lr": _num(params["learning_rate"]),
        "ss_text_encoder_lr": _num(params["text_encoder_lr"] if train_text_encoder else 0),
        "ss_network_train_unet_only": str(not train_text_encoder),
        "ss_optimizer": str(params["optimizer"]),
        "ss_lr_scheduler": str(params["lr_scheduler"]),
        "ss_lr_warmup_steps": str(params["lr_warmup_steps"]),
        "ss_batch_size_per_device": str(params["batch_size"]),
        "ss_gradient_accumulation_steps": str(params["gradient_accumulation"]),
        "ss_mixed_precision": str(params["mixed_precision"]),
        "ss_gradient_checkpointing": str(params["gradient_checkpointing"]),
        "ss_seed": str(params["seed"]),
        "ss_noise_offset": _num(params["noise_offset"]),
        "ss_min_snr_gamma": _num(params["min_snr_gamma"]) if params.get("min_snr_gamma") else "None",
        "ss_caption_dropout_rate": _num(params["caption_dropout"]),
        "ss_enable_bucket": "True",
        "ss_output_name": name,
        "ss_trigger_word": trigger_word,
        "ss_dataset_hash": dataset_hash,
        "ss_tag_frequency": json.dumps({"dataset": {trigger_word: 1}} if trigger_word else {}),
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": MODELSPEC_ARCH[architecture],
        "modelspec.implementation": "https://github.com/kohya-ss/sd-scripts",
        "modelspec.title": name,
        "modelspec.trigger_phrase": trigger_word,
    }


def _num(v: Any) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() else repr(f)


def save(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> Path:
    """Write the kohya LoRA to ``path``."""
    save_file(tensors, str(path), metadata=meta)
    return path
