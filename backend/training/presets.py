"""Named starting points for the parameters: SD 1.5 at 512 px, SDXL at 1024 px, and a quick demo."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backend.basemodels.service import BaseModel


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    architecture: str | None  # the architecture it suits; None: any
    values: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("sd15-512", "SD 1.5 at 512 px", "sd15", {
            "resolution": 512, "rank": 16, "alpha": 8, "learning_rate": 1e-4, "text_encoder_lr": 5e-5,
            "batch_size": 2, "epochs": 10, "lr_scheduler": "cosine", "lr_warmup_steps": 50,
            "mixed_precision": "bf16", "save_every": 250, "sample_every": 250, "sample_steps": 20,
            "min_snr_gamma": 5.0, "noise_offset": 0.05,
        }),
        Preset("sdxl-1024", "SDXL at 1024 px", "sdxl", {
            "resolution": 1024, "rank": 16, "alpha": 16, "learning_rate": 1e-4, "text_encoder_lr": 0.0,
            "batch_size": 1, "epochs": 10, "lr_scheduler": "cosine", "lr_warmup_steps": 50,
            "mixed_precision": "bf16", "gradient_checkpointing": True, "save_every": 250,
            "sample_every": 250, "sample_steps": 25, "min_snr_gamma": 5.0, "noise_offset": 0.0357,
        }),
        Preset("demo-quick", "demo quick (tiny demo models, a few CPU steps)", None, {
            "resolution": 64, "rank": 4, "alpha": 4, "learning_rate": 1e-3, "text_encoder_lr": 5e-4,
            "batch_size": 1, "epochs": 1, "max_steps": 20, "lr_scheduler": "constant", "lr_warmup_steps": 0,
            "mixed_precision": "no", "save_every": 10, "sample_every": 10, "sample_steps": 4,
            "sample_guidance": 3.0,
        }),
    )
}


def default_preset(model: BaseModel) -> str:
    """The preset that fits ``model``: the demo one for demos, else its architecture's."""
    if model.is_demo:
        return "demo-quick"
    return "sdxl-1024" if model.architecture == "sdxl" else "sd15-512"
