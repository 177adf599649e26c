"""Kohya-style aspect-ratio buckets: the shapes the trainer resizes images to.

The trainer and the dataset statistics both use :func:`bucket_for`, so what the statistics show
is what training does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=64)
def bucket_resolutions(resolution: int, step: int = 64, min_side: int = 256, max_side: int | None = None) -> tuple[tuple[int, int], ...]:
    """Every (width, height) bucket: area <= resolution**2, sides multiples of ``step``.

    Same construction as kohya's ``make_bucket_resolutions``: the square bucket plus, for each
    width from ``min_side`` to ``max_side``, the tallest height that keeps the area in budget.
    """
    if resolution < step or step <= 0:
        raise ValueError(f"resolution {resolution} must be at least the step {step}")
    max_side = max_side or resolution * 2
    max_area = resolution * resolution
    square = int(math.sqrt(max_area) // step) * step
    resos = {(square, square)}
    width = min_side
    while width <= max_side:
        height = min(max_side, int((max_area // width) // step) * step)
        if height >= min_side:
            resos.add((width, height))
            resos.add((height, width))
        width += step
    return tuple(sorted(resos))


def bucket_for(width: int, height: int, *, resolution: int, step: int = 64, min_side: int = 256, max_side: int | None = None) -> tuple[int, int]:
    """The bucket (bw, bh) whose aspect ratio is closest to the image's."""
    if width <= 0 or height <= 0:
        raise ValueError(f"invalid image size {width}x{height}")
    aspect = width / height
    resos = bucket_resolutions(resolution, step, min_side, max_side)
    # Ties go to the larger area (kohya keeps the first of its sorted list; ours is sorted the same).
    return min(resos, key=lambda r: (abs(r[0] / r[1] - aspect), -r[0] * r[1]))


def min_bucket_side(resolution: int) -> int:
    """kohya's 256 px minimum bucket side, scaled down for the tiny demo resolutions (as the trainer does)."""
    return max(64, min(256, (resolution // 2) // 64 * 64))


def bucket_counts(sizes: Iterable[tuple[int, int]], resolution: int, **kwargs: int) -> dict[tuple[int, int], int]:
    """How many images fall in each bucket (the trainer's: step 64, its minimum side), ordered by shape."""
    kwargs.setdefault("min_side", min_bucket_side(resolution))
    counts = Counter(bucket_for(w, h, resolution=resolution, **kwargs) for w, h in sizes)
    return dict(sorted(counts.items()))
