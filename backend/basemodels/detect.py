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
