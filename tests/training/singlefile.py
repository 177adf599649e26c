"""Write an SD 1.5 diffusers pipeline as an original single-file checkpoint (the layout A1111 / civitai use).

Test tooling: it turns the tiny demo pipeline into the kind of ``.safetensors`` a user downloads, so
the single-file loading path is tested with a real file. The key mapping is the one of diffusers'
``scripts/convert_diffusers_to_original_stable_diffusion.py``, generalised to any number of blocks
and layers per block; ``diffusers.loaders.single_file_utils`` reads it back (a round trip the tests check).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

_UNET_FIXED = {
    "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
    "add_embedding.linear_1": "label_emb.0.0", "add_embedding.linear_2": "label_emb.0.2",
    "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
}
_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
           ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]


def _unet_prefixes(config: dict[str, Any]) -> list[tuple[str, str]]:
    """(diffusers prefix, ldm prefix) of every UNet block."""
    layers = int(config["layers_per_block"])
    per = layers + 1
    n = len(config["block_out_channels"])
    out: list[tuple[str, str]] = []
    for i, kind in enumerate(config["down_block_types"]):
        for j in range(layers):
            out.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{1 + i * per + j}.0."))
            if "CrossAttn" in kind:
                out.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{1 + i * per + j}.1."))
        if i < n - 1:
            out.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{per * (i + 1)}.0.op."))
    for i, kind in enumerate(config["up_block_types"]):
        attn = "CrossAttn" in kind
        for j in range(per):
            out.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{i * per + j}.0."))
            if attn:
                out.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{i * per + j}.1."))
        if i < n - 1:
            out.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{i * per + layers}.{2 if attn else 1}."))
    out.append(("mid_block.attentions.0.", "middle_block.1."))
    for j in range(2):
        out.append((f"mid_block.resnets.{j}.", f"middle_block.{2 * j}."))
    return out


def unet_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A diffusers UNet state dict under the original ``model.diffusion_model.`` names."""
    prefixes = _unet_prefixes(config)
    out = {}
    for key, tensor in state.items():
        module, _, leaf = key.rpartition(".")
        new = None
        if module in _UNET_FIXED:
            new = f"{_UNET_FIXED[module]}.{leaf}"
        else:
            for hf, sd in prefixes:
                if key.startswith(hf):
                    rest = key[len(hf):]
                    if ".resnets." in hf:
                        for a, b in _RESNET:
                            if rest.startswith(a + "."):
                                rest = b + rest[len(a):]
                                break
                    new = sd + rest
                    break
        if new is None:
            raise ValueError(f"no original name for UNet key {key}")
        out["model.diffusion_model." + new] = tensor
    return out


def vae_to_ldm(state: dict[str, torch.Tensor], config: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A diffusers VAE state dict under the original ``first_stage_model.`` names."""
    n = len(config["down_block_types"])
    layers = int(config["layers_per_block"])
    pairs = [("conv_shortcut", "nin_shortcut"), ("conv_norm_out", "norm_out"), ("mid_block.attentions.0.", "mid.attn_1.")]
    for i in range(n):
        for j in range(layers):
            pairs.append((f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}."))
        if i < n - 1:
            pairs.append((f"down_blocks.{i}.downsamplers.0.", f"down.{i}.downsample."))
            pairs.append((f"up_blocks.{i}.upsamplers.0.", f"up.{n - 1 - i}.upsample."))
        for j in range(layers + 1):
            pairs.append((f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{n - 1 - i}.block.{j}."))
    for i in range(2):
        pairs.append((f"mid_block.resnets.{i}.", f"mid.block_{i + 1}."))
    attn = [("group_norm.", "norm."), ("to_q.", "q."), ("to_k.", "k."), ("to_v.", "v."), ("to_out.0.", "proj_out.")]
    out = {}
    for key, tensor in state.items():
        new = key
        for hf, sd in pairs:
            new = new.replace(hf, sd)
        if "attn_1." in new:
            for hf, sd in attn:
                new = new.replace("attn_1." + hf, "attn_1." + sd)
            if new.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")) and tensor.dim() == 2:
                tensor = tensor[:, :, None, None]  # the original stores the attention projections as 1x1 convs
        out["first_stage_model." + new] = tensor
    return out


def write_sd15_single_file(pipe: Any, dest: Path) -> Path:
    """Save ``pipe`` (an SD 1.5 StableDiffusionPipeline) as one original-layout .safetensors file."""
    state: dict[str, torch.Tensor] = {}
    state.update(unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config)))
    state.update(vae_to_ldm(pipe.vae.state_dict(), dict(pipe.vae.config)))
    for key, tensor in pipe.text_encoder.state_dict().items():
        # Original checkpoints name the CLIP weights ``...transformer.text_model.*`` (newer transformers drop the prefix).
        key = key if key.startswith("text_model.") else "text_model." + key
        state["cond_stage_model.transformer." + key] = tensor
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(dest))
    return dest
