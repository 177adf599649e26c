"""Builtin generation with the demo model: same seed same image, a LoRA changes it, assets carry every parameter."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image

from backend.errors import InvalidInput
from backend.generation import service as assets
from backend.generation.images import LoraFile, RenderJob, png_metadata, submit_images
from backend.jobs import service as jobs
from tests.conftest import wait_until
from tests.generation.loras import write_kohya_lora
from workers.pipelines.images import BuiltinBackend


def digest(png: bytes) -> str:
    return hashlib.sha256(Image.open(io.BytesIO(png)).tobytes()).hexdigest()


def render(backend, **kw):  # type: ignore[no-untyped-def]
    base = dict(prompt="a photo of ohwx woman", negative_prompt="", base_model="demo-sd15", width=64, height=72,
                steps=3, guidance=5.0, scheduler="euler", seed=11, num_images=1)
    steps: list[float] = []
    out = backend.render(RenderJob(**(base | kw)), progress=lambda f, m: steps.append(f), cancelled=lambda: False)
    return out, steps


def test_same_seed_same_image_and_lora_changes_it(demo_sd15, tmp_path):
    backend = BuiltinBackend(device="cpu")
    (a,), steps = render(backend)
    (b,), _ = render(backend)
    assert digest(a.png) == digest(b.png)
    assert steps == pytest.approx([1 / 3, 2 / 3, 1.0])  # progress per denoising step
    assert Image.open(io.BytesIO(a.png)).size == (64, 72)
    (c,), _ = render(backend, seed=12)
    assert digest(c.png) != digest(a.png)
    lora = write_kohya_lora(backend.pipeline("demo-sd15"), tmp_path / "mia.safetensors")
    (with_lora,), _ = render(backend, loras=[LoraFile("l1", "mia", 1.0, str(lora))])
    assert digest(with_lora.png) != digest(a.png)
    (again,), _ = render(backend, loras=[LoraFile("l1", "mia", 1.0, str(lora))])
    assert digest(again.png) == digest(with_lora.png)
    (after,), _ = render(backend)  # the LoRA was unloaded after its job
    assert digest(after.png) == digest(a.png)
    assert BuiltinBackend.loaded_model() == "demo-sd15"


def test_image_job_records_assets_seed_and_png_chunks(ctx, demo_sd15, embedded_workers):
    j = submit_images(ctx, prompt="portrait of ohwx", negative_prompt="blurry", width=64, height=64, steps=2,
                      num_images=2, scheduler="dpmpp_2m")
    assert isinstance(j.payload["seed"], int)  # random seed chosen at submit, always recorded
    done = jobs.wait(ctx, j.id, timeout_s=120)
    assert done.status == "succeeded", done.error
    ids = done.result["asset_ids"]
    assert len(ids) == 2 and done.result["seeds"] == [j.payload["seed"], j.payload["seed"] + 1]
    a = assets.get_asset(ctx, ids[0])
    assert (a.width, a.height, a.mime, a.job_id) == (64, 64, "image/png", j.id)
    assert a.params["steps"] == 2 and a.params["scheduler"] == "dpmpp_2m" and a.params["base_model"] == "demo-sd15"
    assert a.negative_prompt == "blurry" and a.params["backend"] == "builtin"
    data = assets.asset_bytes(ctx, a.id)
    meta = png_metadata(data)
    assert meta["seed"] == a.params["seed"] and meta["prompt"] == "portrait of ohwx"
    assert "Seed: " in Image.open(io.BytesIO(data)).text["parameters"]


def test_cancel_during_denoising(ctx, demo_sd15, embedded_workers):
    j = submit_images(ctx, prompt="x", width=256, height=256, steps=150, seed=1)
    wait_until(lambda: jobs.get(ctx, j.id).stage == "generating", timeout=120)
    jobs.cancel(ctx, j.id)
    done = jobs.wait(ctx, j.id, timeout_s=60)
    assert done.status == "cancelled" and done.progress < 1.0


def test_invalid_requests(ctx, other_ctx):
    with pytest.raises(InvalidInput, match="multiples of 8"):
        submit_images(ctx, prompt="x", width=1001, height=1000)
    with pytest.raises(InvalidInput):
        submit_images(ctx, prompt="   ")
    with pytest.raises(InvalidInput):
        submit_images(ctx, prompt="x", steps=0)
    with pytest.raises(InvalidInput):
        submit_images(ctx, prompt="x", scheduler="magic")
    with pytest.raises(InvalidInput):
        submit_images(ctx, prompt="x", workflow="img2img")
    for n in (0, 9):
        with pytest.raises(InvalidInput):
            submit_images(ctx, prompt="x", num_images=n)
    with pytest.raises(InvalidInput, match="multiples of 8"):
        submit_images(ctx, prompt="x", width=512, height=516)
    # presets are accepted although 1350 is not a multiple of 8 (rendered at 1352, cropped)
    from backend.generation.images import render_size

    assert render_size(1080, 1350) == (1080, 1352)


def test_batch_images_are_saved_as_they_finish_and_a_cancel_keeps_them(ctx, demo_sd15, embedded_workers):
    j = submit_images(ctx, prompt="x", width=64, height=64, steps=60, seed=3, num_images=3)
    wait_until(lambda: assets.count_assets(ctx, job_id=j.id) >= 1, timeout=120)  # a preview before the batch ends
    jobs.cancel(ctx, j.id)
    done = jobs.wait(ctx, j.id, timeout_s=60)
    assert done.status == "cancelled"
    kept = assets.list_assets(ctx, job_id=j.id)
    assert 1 <= len(kept) < 3 and sorted(done.result["asset_ids"]) == sorted(a.id for a in kept)
    assert sorted(a.params["seed"] for a in kept) == [3 + i for i in range(len(kept))]


def test_pipeline_stays_loaded_between_jobs_and_loras_are_per_job(ctx, demo_sd15, embedded_workers):
    from tests.generation.loras import record_random_lora

    lora = record_random_lora(ctx, name="Zoe", trigger_word="zxq")  # loads demo-sd15 into the shared cache
    first = jobs.wait(ctx, submit_images(ctx, prompt="zxq", width=64, height=64, steps=2, seed=4).id, timeout_s=120)
    assert first.status == "succeeded", first.error
    pipe = BuiltinBackend._loaded["pipe"]
    second = jobs.wait(ctx, submit_images(ctx, prompt="zxq", width=64, height=64, steps=2, seed=4,
                                          loras=[{"id": lora.id, "strength": 0.9}]).id, timeout_s=120)
    assert second.status == "succeeded", second.error
    assert BuiltinBackend._loaded["pipe"] is pipe  # the second job did not load the model again
    assert not pipe.get_list_adapters()  # the job's LoRA was unloaded after it
    third = jobs.wait(ctx, submit_images(ctx, prompt="zxq", width=64, height=64, steps=2, seed=4).id, timeout_s=120)
    assert BuiltinBackend._loaded["pipe"] is pipe
    (a,), (b,), (c,) = (j.result["asset_ids"] for j in (first, second, third))
    assert digest(assets.asset_bytes(ctx, a)) == digest(assets.asset_bytes(ctx, c)) != digest(assets.asset_bytes(ctx, b))


def test_generation_worker_modules_import_without_torch():
    # A worker process imports every pipeline module at start; torch/diffusers cost seconds there.
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import sys, workers.pipelines.images, workers.pipelines.captions, workers.pipelines.webhooks; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
