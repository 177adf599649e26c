"""Aspect-ratio buckets: kohya's construction, the closest aspect, the area budget."""

from __future__ import annotations

import pytest

from backend.datasets.buckets import bucket_counts, bucket_for, bucket_resolutions


@pytest.mark.parametrize("resolution", [512, 768, 1024])
def test_every_bucket_fits_the_area_and_the_step(resolution):
    resos = bucket_resolutions(resolution)
    assert (resolution, resolution) in resos
    for w, h in resos:
        assert w * h <= resolution * resolution
        assert w % 64 == 0 and h % 64 == 0
        assert 256 <= min(w, h) and max(w, h) <= resolution * 2


def test_known_buckets():
    assert bucket_for(512, 512, resolution=512) == (512, 512)
    assert bucket_for(1024, 1536, resolution=512) == (384, 640)  # 2:3 portrait
    assert bucket_for(1536, 1024, resolution=512) == (640, 384)
    assert bucket_for(1920, 1080, resolution=1024) == (1344, 768)  # 16:9 in SDXL's budget
    assert bucket_for(100, 1000, resolution=512) == (256, 1024)  # extreme: the narrowest bucket


def test_closest_aspect_wins():
    for w, h in [(300, 400), (1000, 1100), (2000, 900), (640, 480)]:
        bw, bh = bucket_for(w, h, resolution=512)
        best = min(abs(a / b - w / h) for a, b in bucket_resolutions(512))
        assert abs(bw / bh - w / h) == pytest.approx(best)


def test_counts_and_bad_sizes():
    counts = bucket_counts([(1024, 1536), (1000, 1500), (512, 512)], 512)
    assert counts == {(384, 640): 2, (512, 512): 1}
    with pytest.raises(ValueError):
        bucket_for(0, 10, resolution=512)


@pytest.mark.parametrize("resolution", [128, 256, 512, 1024])
def test_statistics_buckets_are_the_trainers(resolution):
    """The statistics count with the trainer's own bucket rule, tiny demo resolutions included."""
    from backend.datasets.buckets import min_bucket_side
    from workers.pipelines.training.data import min_bucket_side as trainer_min_side

    assert min_bucket_side(resolution) == trainer_min_side(resolution)
    sizes = [(300, 900), (1024, 1536), (900, 300)]
    trainer = [bucket_for(w, h, resolution=resolution, step=64, min_side=trainer_min_side(resolution)) for w, h in sizes]
    assert sorted(bucket_counts(sizes, resolution)) == sorted(set(trainer))
