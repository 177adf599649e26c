"""Architecture detection of a base model from its files, without loading any weights."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Literal

Arch = Literal["sd15", "sdxl"]
ARCHES: tuple[Arch, ...] = ("sd15", "sdxl")
_MAX_HEADER = 100 * 1024 * 1024  # a safetensors header larger than this is not a real checkpoint


class UnsupportedModel(ValueError):
    """The files are not an SD 1.5 / SDXL checkpoint we can use; the message says why."""


def safetensors_header(path: Path) -> dict[str, object]:
    """The JSON header of a .safetensors file (tensor names, shapes, ``__metadata__``)."""
    with path.open("rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise UnsupportedModel("file too short to be a .safetensors file")
        (length,) = struct.unpack("<Q", raw)
        if length <= 0 or length > _MAX_HEADER:
            raise UnsupportedModel("not a .safetensors file (bad header length)")
        data = f.read(length)
    try:
        header = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise UnsupportedModel("not a .safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise UnsupportedModel("not a .safetensors file (header is not an object)")
    return header


def arch_of_single_file(path: Path) -> Arch:
    """SD 1.5 or SDXL from the state-dict keys of a single-file checkpoint."""
    keys = [k for k in safetensors_header(path) if k != "__metadata__"]
    if any(k.startswith(("lora_", "lora_unet", "lora_te")) for k in keys[:50]):
        raise UnsupportedModel("this is a LoRA, not a base model")
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("cond_stage_model.transformer.") for k in keys) and any(
        k.startswith("model.diffusion_model.") for k in keys
    ):
        return "sd15"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        raise UnsupportedModel("SD 2.x checkpoints are not supported (SD 1.5 and SDXL are)")
    raise UnsupportedModel("not an SD 1.5 or SDXL checkpoint (unknown state-dict layout)")


def arch_of_diffusers_folder(path: Path) -> Arch:
    """SD 1.5 or SDXL from ``model_index.json`` (and the UNet config when the class is unknown)."""
    try:
        index = json.loads((path / "model_index.json").read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UnsupportedModel(f"unreadable model_index.json: {err}") from None
    cls = str(index.get("_class_name", "")) if isinstance(index, dict) else ""
    if cls.startswith("StableDiffusionXL"):
        return "sdxl"
    if cls in ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline"):
        return "sd15"
    try:
        unet = json.loads((path / "unet" / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        raise UnsupportedModel(f"unsupported pipeline class {cls or '?'} and no readable unet/config.json") from None
    if unet.get("addition_embed_type") == "text_time":
        return "sdxl"
    if unet.get("cross_attention_dim") == 768:
        return "sd15"
    raise UnsupportedModel(f"unsupported pipeline class {cls or '?'}")


def _shape(header: dict[str, object], key: str) -> list[int] | None:
    entry = header.get(key)
    return list(entry["shape"]) if isinstance(entry, dict) and "shape" in entry else None  # type: ignore[index]


def single_file_signature(path: Path) -> dict[str, int | None]:
    """The sizes that tell which diffusers configs fit a single-file checkpoint (from its header only)."""
    header = safetensors_header(path)
    conv_in = _shape(header, "model.diffusion_model.input_blocks.0.0.weight")
    context = next((_shape(header, k) for k in header
                    if k.startswith("model.diffusion_model.") and k.endswith("attn2.to_k.weight")), None)
    text = (_shape(header, "cond_stage_model.transformer.text_model.final_layer_norm.weight")
            or _shape(header, "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight"))
    return {"unet_channels": conv_in[0] if conv_in else None, "context_dim": context[1] if context else None,
            "text_dim": text[0] if text else None}


def folder_signature(path: Path) -> dict[str, int | None]:
    """The same sizes, read from a diffusers folder's UNet and (first) text-encoder configs."""
    try:
        unet = json.loads((path / "unet" / "config.json").read_text())
        text = json.loads((path / "text_encoder" / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    ctx = unet.get("cross_attention_dim")
    return {"unet_channels": (unet.get("block_out_channels") or [None])[0],
            "context_dim": ctx[0] if isinstance(ctx, list) else ctx, "text_dim": text.get("hidden_size")}
