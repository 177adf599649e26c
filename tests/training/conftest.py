"""Fixtures of the training tests: the demo models built once per run, small real datasets."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend.context import Ctx


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both demo models, built once (the same deterministic build the studio does on first use)."""
    from workers.pipelines.diffusion import build_demo_pipeline

    root = tmp_path_factory.mktemp("demo-models")
    for arch in ("sd15", "sdxl"):
        build_demo_pipeline(arch, root / f"demo-{arch}")  # type: ignore[arg-type]
    return root


@pytest.fixture
def demo_models(studio_env, demo_build: Path) -> Path:  # type: ignore[no-untyped-def]
    """The demo models already in place under this test's data dir (skips the first-use build)."""
    from backend.settings import get_settings

    dest = get_settings().data_dir / "models"
    dest.mkdir(parents=True, exist_ok=True)
    for src in demo_build.iterdir():
        shutil.copytree(src, dest / src.name)
    return dest


def upload_dataset(ctx: Ctx, *, n: int = 3, name: str = "Anna", trigger: str = "ohwx", wait: bool = True) -> Any:
    """A dataset of ``n`` distinct captioned photos, ingested by whatever worker serves the cpu queue."""
    from backend.datasets import ingest
    from backend.datasets import service as datasets
    from backend.jobs import service as jobs
    from tests.datasets.imagegen import png

    ds = datasets.create_dataset(ctx, name=name, trigger_word=trigger, default_repeats=2)
    files = [ingest.UploadFile(name=f"img{i}.png", data=png(i, (256 + 64 * (i % 3), 256))) for i in range(n)]
    files += [ingest.UploadFile(name=f"img{i}.txt", data=f"a photo of {trigger} woman, look {i}".encode()) for i in range(n)]
    job = ingest.start_upload(ctx, ds.id, files)
    if wait:
        done = jobs.wait(ctx, job.id, timeout_s=60)
        assert done.status == "succeeded", done.error
        assert len(datasets.training_items(ctx, ds.id)) == n
    return ds


@pytest.fixture
def make_dataset() -> Callable[..., Any]:
    return upload_dataset


def quick(**over: Any) -> dict[str, Any]:
    """Parameters for a few fast CPU steps on the demo models."""
    base = {"max_steps": 4, "rank": 4, "alpha": 4, "save_every": 0, "sample_every": 0, "sample_steps": 2,
            "resolution": 64, "sample_prompts": ["a photo of [trigger]"]}
    base.update(over)
    return base
