"""Training data: images resized into aspect-ratio buckets, cached latents and text embeddings, batches.

The order of batches is a pure function of the seed and the epoch, so a resumed run sees the
batches the interrupted one would have seen.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from backend.datasets.buckets import bucket_for, min_bucket_side


@dataclass
class Example:
    """One image, cached: its latents, caption, and (SDXL) the size conditioning."""

    latents: torch.Tensor  # (4, h/8, w/8), already scaled by the VAE's scaling factor
    caption: str
    bucket: tuple[int, int]  # (width, height)
    time_ids: torch.Tensor  # SDXL: original h, w, crop top, left, target h, w


def fit_to_bucket(img: Image.Image, bucket: tuple[int, int]) -> tuple[Image.Image, tuple[int, int]]:
    """Scale to cover the bucket, then centre-crop; returns the image and the crop's (top, left)."""
    bw, bh = bucket
    w, h = img.size
    scale = max(bw / w, bh / h)
    nw, nh = max(bw, round(w * scale)), max(bh, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - bw) // 2, (nh - bh) // 2
    return img.crop((left, top, left + bw, top + bh)), (top, left)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """An RGB image as a (3, H, W) tensor in [-1, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).contiguous()


@torch.no_grad()
def encode_images(vae: Any, images: list[bytes], *, resolution: int, device: torch.device) -> list[tuple[torch.Tensor, tuple[int, int], torch.Tensor]]:
    """Latents (mean of the VAE posterior, scaled), bucket and SDXL time ids for every image."""
    out = []
    vae_dtype = next(vae.parameters()).dtype
    for data in images:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            w, h = im.size
            bucket = bucket_for(w, h, resolution=resolution, step=64, min_side=min_bucket_side(resolution))
            fitted, (top, left) = fit_to_bucket(im.convert("RGB"), bucket)
        pixels = to_tensor(fitted).unsqueeze(0).to(device, vae_dtype)
        latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
        time_ids = torch.tensor([h, w, top, left, bucket[1], bucket[0]], dtype=torch.float32)
        out.append((latents[0].float().cpu(), bucket, time_ids))
    return out


@dataclass
class BatchPlan:
    """Which examples make up micro-batch ``m`` of the endless, epoch-by-epoch stream."""

    buckets: dict[tuple[int, int], list[int]]  # bucket -> example indices, each repeated `repeats` times
    batch_size: int
    seed: int
    _epochs: dict[int, list[list[int]]] = field(default_factory=dict)

    @property
    def batches_per_epoch(self) -> int:
        return sum(math.ceil(len(v) / self.batch_size) for v in self.buckets.values())

    def epoch(self, e: int) -> list[list[int]]:
        if e not in self._epochs:
            rng = random.Random(self.seed * 1_000_003 + e)
            batches: list[list[int]] = []
            for key in sorted(self.buckets):
                idx = list(self.buckets[key])
                rng.shuffle(idx)
                batches += [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
            rng.shuffle(batches)
            self._epochs = {e: batches}  # keep one epoch: the stream only moves forward
        return self._epochs[e]

    def batch(self, m: int) -> tuple[int, list[int]]:
        """(epoch, example indices) of micro-batch ``m``."""
        per = self.batches_per_epoch
        return m // per, self.epoch(m // per)[m % per]


def plan_batches(examples: list[Example], repeats: list[int], *, batch_size: int, seed: int) -> BatchPlan:
    """Group examples by bucket (every batch has one shape), each repeated its number of times."""
    buckets: dict[tuple[int, int], list[int]] = {}
    for i, (ex, n) in enumerate(zip(examples, repeats)):
        buckets.setdefault(ex.bucket, []).extend([i] * max(1, n))
    return BatchPlan(buckets=buckets, batch_size=batch_size, seed=seed)
